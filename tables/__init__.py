"""Changelog-backed Faust tables, keyed by ASIN and co-partitioned with ``keepa.products``."""
