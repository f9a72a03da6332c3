"""Shared fixtures: a watchlist written to a temporary folder, a store on a real SQLite file."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import Watchlist, load_watchlist
from tests.site import Site, serve

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
def site(httpserver: HTTPServer) -> Site:
    """A local web site on pytest-httpserver whose pages the test sets and changes."""
    return serve(httpserver)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(user_agent="pledge-monitor-test", retries=0) as f:
        yield f


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``BOTH_BACKENDS = True`` runs its ``store`` tests on SQLite and PostgreSQL."""
    if "store" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_BACKENDS", False):
        backends = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
        metafunc.parametrize("store", backends, indirect=True)


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "postgresql":
        from tests.pg import fresh_database

        with fresh_database(migrated=True) as url:
            engine = open_engine(url)
            yield Store(engine)
            engine.dispose()
        return
    engine = open_engine(f"sqlite:///{tmp_path / 'pledge-monitor.db'}")
    yield Store(engine)
    engine.dispose()
