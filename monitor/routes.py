"""Which alert Routes an Event goes to: the route filters, as pure functions.

The store writes one Alert per route this module names; it decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.events import EventKind, Severity, kind_matches
from monitor.lifecycle import EventDraft
from monitor.watchlist import PledgeSpec, RouteSpec, Watchlist


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


def routes_for(draft: EventDraft, watchlist: Watchlist) -> list[str]:
    """The routes an event goes to, judged by the pledges it concerns (see ``concerned``)."""
    return matching_routes(watchlist.routes, draft.kind, draft.severity, concerned(draft, watchlist))


def concerned(draft: EventDraft, watchlist: Watchlist) -> list[PledgeSpec]:
    """A pledge event concerns its pledge; a source event the pledges it names in its details, else
    every pledge that watches the source; a source that no pledge watches concerns none."""
    if draft.pledge_id:
        return [p for p in watchlist.pledges if p.id == draft.pledge_id]
    ids = set(draft.details.get("pledges", ()))
    if not ids and draft.source_id:
        return list(watchlist.pledges_for(draft.source_id))
    return [p for p in watchlist.pledges if p.id in ids]
