"""Maintainers' tools: ``try`` one source now, and the online half of ``validate --online``."""

from __future__ import annotations

from collections.abc import Sequence

import click
from pydantic import ValidationError

from monitor import diff as differ
from monitor.clauses import Outcome, explain
from monitor.cli import App, is_tty, pass_app
from monitor.fetch import Fetcher
from monitor.online import Trial, try_source, validate_online
from monitor.watchlist import Defaults, PageSource, WatchedSource, Watchlist

PREVIEW_LINES = 60


@click.command(name="try")
@click.argument("target", metavar="SOURCE_ID|URL")
@click.option("--select", help="CSS selector of the text to watch (overrides the source's).")
@click.option("--remove", multiple=True, help="CSS selector of parts to leave out (repeatable).")
@click.option("--ignore", multiple=True, help="Regular expression of text to leave out (repeatable).")
@click.option("--clause", "clauses", multiple=True, help="Also look for this clause (repeatable).")
@click.option("--browser", is_flag=True, help="Load the page in headless Chromium (browser: true).")
@click.option("--full", is_flag=True, help="Show the whole extracted text, not the first 60 lines.")
@pass_app
def try_command(
    app: App,
    target: str,
    select: str | None,
    remove: tuple[str, ...],
    ignore: tuple[str, ...],
    clauses: tuple[str, ...],
    browser: bool,
    full: bool,
) -> None:
    """Fetch a source now and show what pledge-monitor would see; writes nothing.

    Shows the extracted text, how each clause of the source's pledges is found (exactly,
    reworded or weakened with the passage, or not at all), and fetches a second time to warn when
    the text is not the same twice in a row (a page that would "blink" a change at every check).
    A source with browser: true (or --browser) is loaded in headless Chromium; a page whose text
    is short without a browser is tried in one too, to tell a JavaScript shell. Exit status 1
    when a problem was found; a clause not found exactly is one.

    \b
    Examples:
      pledge-monitor try amazon-moratorium-post
      pledge-monitor try amazon-moratorium-post --select "article .body" --full
      pledge-monitor try https://example.org/policy --select main --remove .share \\
          --clause "we will not sell facial recognition technology to police"
      pledge-monitor try https://example.org/app --browser --select "#policy"
    """
    url_given = target.startswith(("http://", "https://"))
    watchlist = app.watchlist if not url_given or app.watchlist_path.exists() else None
    defaults = watchlist.defaults if watchlist else Defaults()
    source = _source(watchlist, target, url_given, select, remove, ignore, browser)
    pledges = watchlist.pledges_for(source.id) if watchlist and not url_given else ()
    with _fetcher(defaults) as fetcher:
        trial = try_source(
            source, pledges, fetcher, extra_clauses=clauses, pause=defaults.per_host_delay.total_seconds()
        )
    for line in trial_lines(trial, full=full, color=is_tty()):
        click.echo(line)
    if not trial.ok:
        raise click.exceptions.Exit(1)


def check_online(watchlist: Watchlist) -> None:
    """``validate --online``: try every source; one line each, then the problems; exit 1 on any."""
    with _fetcher(watchlist.defaults) as fetcher:
        trials = validate_online(watchlist, fetcher)
    width = max((len(t.source.id) for t in trials), default=0)
    for trial in trials:
        click.echo(f"{trial.source.id:<{width}}  {'ok     ' if trial.ok else 'PROBLEM'}  {_summary(trial)}")
        for problem in trial.problems:
            click.echo(f"{'':<{width}}    {problem.kind}: {problem.message}")
    failing = [t for t in trials if not t.ok]
    click.echo(
        f"online: {len(trials)} source{'s' if len(trials) != 1 else ''} tried, "
        f"{len(trials) - len(failing)} ok, {len(failing)} with problems"
    )
    if failing:
        raise click.exceptions.Exit(1)


def _fetcher(defaults: Defaults) -> Fetcher:
    return Fetcher(
        user_agent=defaults.user_agent,
        pool_size=4,
        max_body=defaults.max_body,
        retries=1,
        browser_pages=defaults.browser_pages,
    )


def _source(
    watchlist: Watchlist | None,
    target: str,
    url_given: bool,
    select: str | None,
    remove: Sequence[str],
    ignore: Sequence[str],
    browser: bool = False,
) -> WatchedSource:
    """The watchlist's source, or a page made from the URL; options given override its rules,
    and an option the source's kind does not take is a usage error."""
    rules: dict[str, object] = {}
    if select is not None:
        rules["select"] = select
    if remove:
        rules["remove"] = list(remove)
    if ignore:
        rules["ignore"] = list(ignore)
    if browser:
        rules["browser"] = True
    known = None if url_given or watchlist is None else watchlist.source(target)
    try:
        checked = PageSource.model_validate({"id": "try", "url": known.url if known else target, **rules})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(problems) from None
    if known is None:
        return checked
    not_taken = [key for key in rules if key not in type(known).model_fields]
    if not_taken:
        options = ", ".join(f"--{key}" for key in not_taken)
        raise click.UsageError(f"{options}: not used by {known.id}, a source of kind {known.kind}")
    return known.model_copy(update={key: getattr(checked, key) for key in rules})


def trial_lines(trial: Trial, *, full: bool = False, color: bool = False) -> list[str]:
    """What ``try`` prints: the fetch, the text, the clauses, the second fetch, the problems."""
    source = trial.source
    lines = [f"{source.id}: {source.url}"]
    fetched = trial.fetched
    if fetched is not None:
        moved = f", redirected to {fetched.final_url}" if fetched.final_url != source.url else ""
        rendered = fetched.header("X-Rendered-By")
        how = f", rendered in {rendered}" if rendered else ""
        lines.append(
            f"  fetched: HTTP {fetched.status}, {len(fetched.body):,} bytes, "
            f"{fetched.content_type or 'no content type'}{moved}{how}"
        )
    if trial.note is not None:
        lines.append(f"  repaired: {trial.note} (the HTML parser could not see the selection without it)")
    if trial.text is not None:
        lines += _text_lines(trial, full)
    lines += _clause_lines(trial)
    if trial.blink is not None:
        lines.append("  second fetch: the text CHANGED between two fetches; every check would see a change:")
        lines += [f"    {line}" for line in differ.render_terminal(trial.blink, color=color).splitlines()]
        lines.append("    (leave the changing part out with `remove:` or `ignore:`)")
    elif trial.stable:
        lines.append("  second fetch: the same text (stable)")
    if trial.problems:
        lines.append(f"  {len(trial.problems)} problem{'s' if len(trial.problems) != 1 else ''}:")
        lines += [f"    {p.kind}: {p.message}" for p in trial.problems]
    else:
        lines.append("  no problems")
    return lines


def _text_lines(trial: Trial, full: bool) -> list[str]:
    assert trial.text is not None
    text_lines = trial.text.splitlines()
    rules = _rules(trial.source)
    noun = "text" if isinstance(trial.source, PageSource) else f"{len(trial.items)} items"
    lines = [f"  extracted {noun}: {len(trial.text):,} characters, {len(text_lines)} lines{rules}"]
    shown = text_lines if full else text_lines[:PREVIEW_LINES]
    lines.append("  ----")
    lines += [f"  | {line}" for line in shown]
    if len(shown) < len(text_lines):
        lines.append(f"  | ... ({len(text_lines) - len(shown)} more lines; --full shows them all)")
    lines.append("  ----")
    return lines


def _rules(source: WatchedSource) -> str:
    if not isinstance(source, PageSource):
        return ""
    parts = []
    if isinstance(source.selection, str):
        parts.append(f"select {source.selection!r}")
    elif source.select:
        parts.append(f"select {source.describe_selection()}")
    if source.remove:
        parts.append("remove " + ", ".join(repr(r) for r in source.remove))
    if source.ignore:
        parts.append("ignore " + ", ".join(repr(r) for r in source.ignore))
    return f" ({'; '.join(parts)})" if parts else ""


def _clause_lines(trial: Trial) -> list[str]:
    if not trial.clauses:
        if isinstance(trial.source, PageSource) and trial.text is not None:
            return ["  clauses: none to look for (no pledge uses this source; try --clause TEXT)"]
        return []
    lines = ["  clauses:"]
    for finding in trial.clauses:
        match = finding.match
        owner = finding.pledge_id or "--clause"
        if match.outcome is Outcome.EXACT:
            lines.append(f'    found exactly        {owner}: "{match.clause}"')
        elif match.outcome is Outcome.NOT_FOUND:
            lines.append(f'    NOT FOUND            {owner}: "{match.clause}"')
        else:
            label = f"{match.outcome.value.upper()} ({match.similarity:.0%})"
            lines.append(f'    {label:<20} {owner}: "{match.clause}"')
            lines.append(f'      on the page: "{match.passage}"')
            lines.append(f"      {explain(match)}")
    return lines


def _summary(trial: Trial) -> str:
    """One line for ``validate --online``."""
    if trial.text is None:
        return "not read"
    page = isinstance(trial.source, PageSource)
    parts = [f"{len(trial.text):,} chars" if page else f"{len(trial.items)} items"]
    if trial.clauses:
        exact = sum(1 for f in trial.clauses if f.match.outcome is Outcome.EXACT)
        approximate = sum(1 for f in trial.clauses if f.match.outcome in (Outcome.REWORDED, Outcome.WEAKENED))
        found = f"{exact}/{len(trial.clauses)} clauses exact"
        parts.append(found + (f", {approximate} approximate" if approximate else ""))
    parts.append("stable" if trial.stable else "NOT stable" if trial.blink is not None else "")
    return "; ".join(p for p in parts if p)


COMMANDS = [try_command]
