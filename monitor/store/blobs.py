"""Compression of stored bodies and texts: zstd, as a delta against the previous version.

A changed page is mostly the page before it, so compressing a new version with the previous
one as a raw-content dictionary stores little more than the edit (a 270 KB page: 56 KB with
zlib, under 4 KB as a delta). Chains are cut every ``MAX_DEPTH`` versions so that reading any
version never needs more than that many decompressions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import zstandard

MAX_DEPTH = 16
LEVEL = 3
SMALL_DELTA = 16  # a delta this many times smaller than the raw bytes is kept without a comparison


@dataclass(frozen=True)
class Packed:
    data: bytes
    codec: str  # "zstd" or "zstd-delta"
    base: str | None
    depth: int


def pack(raw: bytes, base: tuple[str, bytes, int] | None = None) -> Packed:
    """Compress ``raw``; with ``base`` (hash, raw bytes, depth) as a delta when that is smaller.

    A delta under 1/16 of the raw size (the usual edit: a 50 KB page, a 131-byte delta) is kept
    without compressing the page on its own too: plain zstd gets a web page to about a quarter."""
    if base is None or base[2] + 1 >= MAX_DEPTH or not base[1]:
        return Packed(_plain(raw), "zstd", None, 0)
    base_hash, base_raw, base_depth = base
    delta = zstandard.ZstdCompressor(level=LEVEL, dict_data=_dictionary(base_raw)).compress(raw)
    if len(delta) * SMALL_DELTA > len(raw):
        plain = _plain(raw)
        if len(delta) >= len(plain):
            return Packed(plain, "zstd", None, 0)
    return Packed(delta, "zstd-delta", base_hash, base_depth + 1)


def _plain(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=LEVEL).compress(raw)


def unpack(data: bytes, codec: str, base_raw: Callable[[], bytes]) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdDecompressor().decompress(data)
    if codec == "zstd-delta":
        return zstandard.ZstdDecompressor(dict_data=_dictionary(base_raw())).decompress(data)
    raise ValueError(f"unknown blob codec {codec!r}")


def _dictionary(raw: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
