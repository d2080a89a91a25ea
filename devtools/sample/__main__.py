"""``python -m devtools.sample``: write a synthetic Keepa sample as JSONL."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from devtools.sample.generator import SampleConfig, generate_sample, write_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.sample", description="Write synthetic Keepa envelopes as JSONL."
    )
    parser.add_argument("path", help="output .jsonl file")
    parser.add_argument("--asins", type=int, default=100, help="number of ASINs (x 5 markets)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=datetime(2025, 3, 1, tzinfo=UTC),
        help="ISO-8601 start (UTC if no offset)",
    )
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--step-minutes", type=int, default=60)
    parser.add_argument("--opportunity-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)
    envelopes = generate_sample(
        args.asins,
        seed=args.seed,
        start=args.start,
        steps=args.steps,
        step_minutes=args.step_minutes,
        config=SampleConfig(opportunity_fraction=args.opportunity_fraction),
    )
    count = write_jsonl(envelopes, args.path)
    sys.stderr.write(f"wrote {count} envelopes to {args.path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
