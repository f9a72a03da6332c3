"""Shared fixtures: a watchlist written to a temporary folder, a store on a real SQLite file."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import Watchlist, load_watchlist

WriteWatchlist = Callable[[str], Watchlist]


@pytest.fixture
def write_watchlist(tmp_path: Path) -> WriteWatchlist:
    """Write YAML (dedented) to tmp_path/watchlist.yaml and load it."""

    def write(text: str) -> Watchlist:
        path = tmp_path / "watchlist.yaml"
        path.write_text(textwrap.dedent(text))
        return load_watchlist(path)

    return write


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = open_engine(f"sqlite:///{tmp_path / 'pledge-monitor.db'}")
    yield Store(engine)
    engine.dispose()
