"""Synthetic Keepa data: a seeded market simulator and a JSONL sample generator.

Imports only the standard library, orjson, the pure domain and app.keepa (no faust, no
``keepa`` package).
"""

from devtools.sample.generator import (
    SYNTHETIC_PREFIX,
    Episode,
    MarketSimulator,
    SampleConfig,
    generate_sample,
    write_jsonl,
)

__all__ = [
    "SYNTHETIC_PREFIX",
    "Episode",
    "MarketSimulator",
    "SampleConfig",
    "generate_sample",
    "write_jsonl",
]
