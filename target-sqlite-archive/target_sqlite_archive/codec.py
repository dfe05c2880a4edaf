"""The raw versions' codec: how `_archive_raw.raw` is compressed, and reading any row back.

Each raw row names its codec in `_archive_raw.codec`:
- 'zstd-dict': a zstd frame compressed with its stream's dictionary; the frame names the
  dictionary's id, a row of `_archive_dictionaries`. A stream gets a dictionary once one batch
  brings enough versions to train it on (TRAIN_MIN_SAMPLES, TRAIN_MIN_BYTES).
- 'zstd': a zstd frame without a dictionary (a stream's versions before it had one, and small
  streams that never get one).
- 'zlib': archives written before the codec column existed; the column's default ('zlib', set
  when the upgrade adds it) says so for every old row without rewriting one.
The writer trains and stores a stream's dictionary and reports it to the target after that
COMMIT; the target then compresses the stream's versions itself (batch.encode), so that the
writer, which sets the pace, only stores them. Every frame records its content size, so any
zstd decoder (Python 3.14's `compression.zstd`, the `zstd` command with `-D` for a
dictionary) reads it back without being told a size.

Why zstd: on the project's Intercom-shaped records (0.7-1.6 KB of JSON each) zstd level 1
compresses 2.4-2.7x faster than zlib level 1 for 3-7% more bytes, and decompresses faster
too (benchmarks/target/ANALYSIS.md has the figures). lz4 was faster still (another ~4 us a
record) but left the raw table 26-36% larger, and the raw table is most of the file.

Why a dictionary: one record is too short for zstd to learn the JSON's repeated keys and
values from; a 16 KiB dictionary trained on a stream's own records gives them up front. On the
benchmark's conversation parts that made the raw column 5.97x smaller instead of 1.58x, with a
third of the instructions (19.2 k against 63.8 k a part); ANALYSIS.md, "Session 7".
"""

from __future__ import annotations

import typing as t
import zlib
from dataclasses import dataclass

import zstandard

ZSTD_DICT = "zstd-dict"
ZSTD = "zstd"
ZLIB = "zlib"

Compress = t.Callable[[bytes], bytes]

#: A stream's first dictionary is trained from one batch with at least this many new versions
#: and bytes of them (eight times the dictionary): fewer give a dictionary that helps little.
#: Measured on the benchmark's conversations (2.4 KB each), 50 samples already gave 7.7x.
TRAIN_MIN_SAMPLES = 100
TRAIN_MIN_BYTES = 128 * 1024
#: At most this many of the batch's versions, spread over it, are the training samples
#: (training 1,000 parts takes ~200 M instructions, 40-150 ms here, once per stream).
TRAIN_MAX_SAMPLES = 1_000
#: The dictionary's size, small beside a stream's rows (zstd's own default is 110 KiB): it gave
#: 5.97x on the benchmark's parts and 8x on its conversations.
DICTIONARY_BYTES = 16 * 1024
#: Ids below 32,768 are reserved by zstd's format for registered dictionaries.
FIRST_DICTIONARY_ID = 32_768


@dataclass(frozen=True, slots=True)
class Dictionary:
    """A stored dictionary: its id (the one its frames name), its stream, its bytes."""

    dict_id: int
    stream: str
    data: bytes


def worth_training(texts: t.Sequence[bytes]) -> bool:
    """Whether a batch of a stream's new versions is enough to train its dictionary on."""
    return len(texts) >= TRAIN_MIN_SAMPLES and sum(map(len, texts)) >= TRAIN_MIN_BYTES


class RawCompressor:
    """Compresses raw versions for new rows: with the stream's dictionary once it has one
    (the newest of `dictionaries`, as stored, oldest first), else as plain zstd frames."""

    def __init__(self, level: int, dictionaries: t.Iterable[Dictionary] = ()) -> None:
        self._level = level
        self._plain = zstandard.ZstdCompressor(level=level).compress
        self._by_stream: dict[str, Compress] = {}
        for dictionary in dictionaries:
            self.use(dictionary)

    def use(self, dictionary: Dictionary) -> None:
        """Compress `dictionary.stream`'s versions with this dictionary from now on."""
        data = zstandard.ZstdCompressionDict(dictionary.data)
        self._by_stream[dictionary.stream] = zstandard.ZstdCompressor(
            level=self._level, dict_data=data
        ).compress

    def for_stream(self, stream: str) -> tuple[str, Compress]:
        """(codec, compress function) of a stream's new rows."""
        compress = self._by_stream.get(stream)
        return (ZSTD, self._plain) if compress is None else (ZSTD_DICT, compress)

    def with_dictionary(self, stream: str) -> Compress | None:
        """The compress function of a stream's dictionary, if it has one."""
        return self._by_stream.get(stream)

    def train(self, stream: str, texts: t.Sequence[bytes], dict_id: int) -> Dictionary | None:
        """Train `stream`'s dictionary on `texts` (a batch `worth_training`) and use it from
        now on; None if zstd could not learn from them (the next batch tries again). The
        caller stores the dictionary in the transaction of the rows it compresses."""
        step = max(len(texts) // TRAIN_MAX_SAMPLES, 1)
        samples: list[bytes | bytearray | memoryview] = list(texts[::step][:TRAIN_MAX_SAMPLES])
        try:
            trained = zstandard.train_dictionary(
                DICTIONARY_BYTES, samples, dict_id=dict_id, level=self._level
            )
        except zstandard.ZstdError:
            return None  # samples too alike or too few distinct bytes to learn from
        dictionary = Dictionary(dict_id, stream, trained.as_bytes())
        self.use(dictionary)
        return dictionary


class RawDecoder:
    """Reads raw rows back, whichever codec wrote them; `dictionaries` gives the archive's
    stored dictionaries, asked for the first time a row needs one."""

    def __init__(self, dictionaries: t.Callable[[], t.Iterable[Dictionary]]) -> None:
        self._load = dictionaries
        self._by_id: dict[int, t.Callable[[bytes], bytes]] | None = None

    def text(self, codec: str, raw: bytes) -> bytes:
        """A raw row's JSON text (UTF-8)."""
        if codec != ZSTD_DICT:
            return decompress(codec, raw)
        if self._by_id is None:
            self._by_id = {
                d.dict_id: zstandard.ZstdDecompressor(
                    dict_data=zstandard.ZstdCompressionDict(d.data)
                ).decompress
                for d in self._load()
            }
        dict_id = zstandard.get_frame_parameters(raw).dict_id
        decode = self._by_id.get(dict_id)
        if decode is None:
            msg = f"raw version compressed with dictionary {dict_id}, which the archive lacks"
            raise ValueError(msg)
        return decode(raw)


_zstd_decompress = zstandard.ZstdDecompressor().decompress


def decompress(codec: str, raw: bytes) -> bytes:
    """A raw row's JSON text (UTF-8), for the codecs without a dictionary."""
    if codec == ZSTD:
        return _zstd_decompress(raw)
    if codec == ZLIB:
        return zlib.decompress(raw)
    msg = f"unknown raw codec {codec!r}: this archive was written by a newer target"
    raise ValueError(msg)
