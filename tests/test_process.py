"""Process-wide tuning for the commands that check many sources."""

from __future__ import annotations

import ctypes.util

import pytest

from monitor.process import limit_malloc_arenas


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library to tune on this system")
def test_malloc_arenas_can_be_capped_on_glibc() -> None:
    assert limit_malloc_arenas(2) is True
