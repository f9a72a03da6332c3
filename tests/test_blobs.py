"""Stored bodies and texts: zstd on their own, or as a delta against the version before."""

from __future__ import annotations

import os

from monitor.store import blobs

PAGE = b"".join(b"<p>Paragraph %d of the policy: we will not sell to police.</p>\n" % n for n in range(800))
EDITED = PAGE.replace(b"Paragraph 400 of", b"Paragraph 400, amended, of")


def test_a_small_edit_is_stored_as_a_delta_that_reads_back() -> None:
    packed = blobs.pack(EDITED, ("base-hash", PAGE, 3))

    assert (packed.codec, packed.base, packed.depth) == ("zstd-delta", "base-hash", 4)
    assert len(packed.data) * blobs.SMALL_DELTA <= len(EDITED)
    assert blobs.unpack(packed.data, packed.codec, lambda: PAGE) == EDITED


def test_without_a_base_it_is_plain_zstd() -> None:
    packed = blobs.pack(PAGE)

    assert (packed.codec, packed.base, packed.depth) == ("zstd", None, 0)
    assert blobs.unpack(packed.data, packed.codec, lambda: b"") == PAGE


def test_a_delta_no_smaller_than_plain_zstd_is_not_kept() -> None:
    unrelated = os.urandom(4000)  # nothing in common with the base, and nothing to compress

    packed = blobs.pack(unrelated, ("base-hash", PAGE, 0))

    assert (packed.codec, packed.base) == ("zstd", None)
    assert blobs.unpack(packed.data, packed.codec, lambda: b"") == unrelated


def test_a_chain_is_cut_at_max_depth() -> None:
    packed = blobs.pack(EDITED, ("base-hash", PAGE, blobs.MAX_DEPTH - 1))

    assert (packed.codec, packed.depth) == ("zstd", 0)
