"""Which alert Routes an Event goes to: the route filters, as a pure function."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.events import EventKind, Severity, kind_matches
from monitor.watchlist import PledgeSpec, RouteSpec


def route_accepts(
    route: RouteSpec, kind: EventKind, severity: Severity, pledges: Sequence[PledgeSpec]
) -> bool:
    """A route takes an event when every filter it sets agrees; an unset filter lets all through.

    ``pledges`` are those the event concerns: one for a pledge event, those a source carries for
    a source event, none for a source that carries no pledge.
    """
    if not kind_matches(kind, route.events) or severity < route.min_severity:
        return False
    if route.pledges and not {p.id for p in pledges} & set(route.pledges):
        return False
    if route.companies:
        wanted = {c.casefold() for c in route.companies}
        if not any(p.company.casefold() in wanted for p in pledges):
            return False
    return not (route.tags and not any(set(route.tags) & set(p.tags) for p in pledges))


def matching_routes(
    routes: Sequence[RouteSpec], kind: EventKind, severity: Severity, pledges: Sequence[PledgeSpec]
) -> list[str]:
    return [r.name for r in routes if route_accepts(r, kind, severity, pledges)]
