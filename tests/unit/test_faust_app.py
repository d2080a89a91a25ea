"""The Faust application's own guards (``app/faust_app.py``)."""

from __future__ import annotations

from typing import cast

from faust.transport.consumer import Consumer

from app.faust_app import app


async def test_recovery_completion_stops_fetching_until_faust_resumes_the_flow() -> None:
    # Faust sends on_rebalance_complete at the start of Recovery.on_recovery_completed, then
    # resumes the stream partitions and seeks them; the fetcher must not deliver records before
    # its own consumer.resume_flow() at the end (the kill -9 test shows what is lost otherwise).
    consumer = cast(Consumer, app.consumer)
    consumer.resume_flow()
    assert consumer.flow_active
    await app.on_rebalance_complete.send()
    assert not consumer.flow_active
    assert not consumer.can_resume_flow.is_set()
    consumer.resume_flow()  # what Faust does once the streams are seeked
    assert consumer.flow_active
