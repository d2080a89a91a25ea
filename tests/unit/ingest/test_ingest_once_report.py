"""``arbitrage ingest --once``: what it prints, and that it refuses to run without --once."""

from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from app.cli import cli
from app.ingest.ingestion import ONCE_DAG_ID, BatchFailure, OnceReport
from app.ingest.runs import AttemptKey, BatchAttempt, BatchOutcome, summarise_run

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _report() -> OnceReport:
    ok = BatchAttempt(
        AttemptKey(ONCE_DAG_ID, "once-1", 0, 1),
        BatchOutcome("DE", 2, 2, 2, 2, {"1": 2}, tokens_left=98, refill_rate=20),
        T0,
    )
    failed = BatchAttempt(
        AttemptKey(ONCE_DAG_ID, "once-1", 1, 1),
        BatchOutcome("FR", 1, 1, 0, 1),
        T0,
        error="PublishError: 1 envelope not delivered",
    )
    summary = summarise_run(
        [ok, failed],
        dag_id=ONCE_DAG_ID,
        run_id="once-1",
        planned_batches=2,
        planned_at=T0,
        finished_at=T0,
    )
    return OnceReport(
        batches=(
            {"market": "DE", "asins": ["B0AAAAAAA1", "B0AAAAAAA2"], "requested": ["B0AAAAAAA1"]},
            {"market": "FR", "asins": ["B0AAAAAAA1"]},
        ),
        requested=1,
        summary=summary,
        failures=(
            BatchFailure(
                "FR",
                ("B0AAAAAAA1",),
                "PublishError: 1 envelope not delivered",
                failed_keys=("B0AAAAAAA1",),
            ),
        ),
    )


def test_the_report_says_what_was_planned_fetched_published_and_spent() -> None:
    report = _report()
    assert not report.ok
    assert report.lines() == [
        "planned: 2 ASINs, 3 ASIN-market fetches in 2 batches "
        "(1 of them for 1 pending fetch requests)",
        "fetched: 3 products for 3 ASIN-market pairs; published: 2 envelopes to keepa.products",
        "tokens: 3 consumed, 98 left, refill 20/min",
        f"recorded: {ONCE_DAG_ID}:once-1 in ingest-runs",
        "FAILED FR [B0AAAAAAA1]: PublishError: 1 envelope not delivered "
        "(unconfirmed keys: B0AAAAAAA1)",
    ]


def test_ingest_without_once_is_refused() -> None:
    result = CliRunner().invoke(cli, ["ingest"])
    assert result.exit_code == 2
    assert "only --once" in result.output
