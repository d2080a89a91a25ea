"""RocksDB options of every table of the worker, chosen for this workload.

Faust opens one RocksDB database per table partition, each with its own memtables and block
cache; its defaults (a 64 MB write buffer, up to three of them, a 2 GB block cache) are sized
for one large database per process. Here a worker holds up to ``TOPIC_PARTITIONS`` databases
per table, and the state is small per key (a few KB per ASIN) and read mostly from what was
just written, so the memory peak was set by memtables filling up at the write rate, not by
the state. With these options:

* ``write_buffer_size`` 4 MB, at most 2 per database: a database's memtables hold at most
  8 MB before writes wait for a flush, so a worker's memtables are bounded by
  8 MB x (databases it holds) however fast it writes; flushes are small and frequent (cheap
  for a few MB).
* ``block_cache_size`` 8 MB per database: the working set of hot ASINs; anything else is read
  from the OS page cache, which the kernel may reclaim (it does not count against the
  worker's own memory).
* ``max_open_files`` 256 per database: file handles (and their index blocks) stay bounded
  as the state grows.

docs/performance.md explains the measurements behind these figures.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["BLOCK_CACHE_BYTES", "MAX_WRITE_BUFFERS", "WRITE_BUFFER_BYTES", "rocksdb_options"]

WRITE_BUFFER_BYTES: Final = 4 * 1024 * 1024
MAX_WRITE_BUFFERS: Final = 2
BLOCK_CACHE_BYTES: Final = 8 * 1024 * 1024
MAX_OPEN_FILES: Final = 256


def rocksdb_options() -> dict[str, Any]:
    """The ``options`` of a table (a new dict per table: Faust's store pops keys from it)."""
    return {
        "write_buffer_size": WRITE_BUFFER_BYTES,
        "max_write_buffer_number": MAX_WRITE_BUFFERS,
        "block_cache_size": BLOCK_CACHE_BYTES,
        "max_open_files": MAX_OPEN_FILES,
    }
