"""watchlist.yaml: its values (values.py), the models it loads into (models.py), and the strict
loader that says where each problem is (load.py, on yaml_lines.py's lines).

The names the rest of the code uses are importable from here.
"""

from monitor.watchlist.load import load_watchlist, parse_watchlist
from monitor.watchlist.models import (
    ArchiveSpec,
    BrowserSource,
    Defaults,
    FeedSource,
    ItemSource,
    ListingSource,
    PageSource,
    PledgeSpec,
    Renewal,
    RouteSpec,
    SectionSpec,
    SourceKind,
    SourceSpec,
    TimestampsSpec,
    TsaSpec,
    WatchedSource,
    Watchlist,
    missing_archive_vars,
    missing_env_vars,
    missing_header_vars,
)
from monitor.watchlist.values import parse_duration

__all__ = [
    "ArchiveSpec",
    "BrowserSource",
    "Defaults",
    "FeedSource",
    "ItemSource",
    "ListingSource",
    "PageSource",
    "PledgeSpec",
    "Renewal",
    "RouteSpec",
    "SectionSpec",
    "SourceKind",
    "SourceSpec",
    "TimestampsSpec",
    "TsaSpec",
    "WatchedSource",
    "Watchlist",
    "load_watchlist",
    "missing_archive_vars",
    "missing_env_vars",
    "missing_header_vars",
    "parse_duration",
    "parse_watchlist",
]
