"""The raw versions' codec: how `_archive_raw.raw` is compressed, and reading any row back.

Each raw row names its codec in `_archive_raw.codec`. New rows are zstd frames ('zstd');
archives written before the column existed hold zlib streams, and the column's default
('zlib', set when the upgrade adds it) says so for every old row without rewriting one.

Why zstd: on the project's Intercom-shaped records (0.7-1.6 KB of JSON each) zstd level 1
compresses 2.4-2.7x faster than zlib level 1 for 3-7% more bytes, and decompresses faster
too (benchmarks/target/ANALYSIS.md has the figures). lz4 was faster still (another ~4 us a
record) but left the raw table 26-36% larger, and the raw table is most of the file.
"""

from __future__ import annotations

import typing as t
import zlib

import zstandard

ZSTD = "zstd"
ZLIB = "zlib"
#: The codec of rows written now.
CURRENT = ZSTD

Compress = t.Callable[[bytes], bytes]


def compressor(level: int) -> Compress:
    """The function compressing one raw text for a new row (`CURRENT`'s codec).

    Each frame records its content size, so any zstd decoder (Python 3.14's
    `compression.zstd` too) reads it back without being told a size.
    """
    return zstandard.ZstdCompressor(level=level).compress


_zstd_decompress = zstandard.ZstdDecompressor().decompress


def decompress(codec: str, raw: bytes) -> bytes:
    """A raw row's JSON text (UTF-8), whichever codec wrote it."""
    if codec == ZSTD:
        return _zstd_decompress(raw)
    if codec == ZLIB:
        return zlib.decompress(raw)
    msg = f"unknown raw codec {codec!r}: this archive was written by a newer target"
    raise ValueError(msg)
