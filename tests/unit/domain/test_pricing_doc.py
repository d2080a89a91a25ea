"""docs/pricing.md lists every figure of the fee schedule: its generated block must equal what
the data file gives today. Regenerate the block with
``uv run python -m tests.unit.domain.test_pricing_doc``."""

from __future__ import annotations

import sys
from pathlib import Path

from app.domain.fee_schedule import default_fee_schedule
from app.domain.fee_schedule.markdown import BEGIN, END, figures_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "pricing.md"


def _split(text: str) -> tuple[str, str, str]:
    head, begin, rest = text.partition(BEGIN)
    block, end, tail = rest.partition(END)
    assert begin, f"{DOC} has no {BEGIN!r} marker"
    assert end, f"{DOC} has no {END!r} marker"
    return head, begin + block + end + "\n", tail.removeprefix("\n")


def test_pricing_doc_lists_every_figure_of_the_schedule() -> None:
    _, block, _ = _split(DOC.read_text())
    assert block == figures_markdown(default_fee_schedule()), (
        "docs/pricing.md is out of date with schedule.toml: run "
        "`uv run python -m tests.unit.domain.test_pricing_doc`"
    )


def test_every_source_appears_in_the_doc() -> None:
    schedule = default_fee_schedule()
    text = DOC.read_text()
    for rule in schedule.referral:
        assert rule.sourced.source.replace("|", "\\|") in text
    for dsf in schedule.dsf:
        assert dsf.sourced.source in text


if __name__ == "__main__":
    head, _, tail = _split(DOC.read_text())
    DOC.write_text(head + figures_markdown(default_fee_schedule()) + tail)
    sys.stdout.write(f"rewrote the fee schedule block of {DOC}\n")
