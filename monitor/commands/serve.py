"""``pledge-monitor serve``: the dashboard and JSON API; ``pledge-monitor token``: its access tokens."""

from __future__ import annotations

import click

from monitor.cli import App, pass_app, utcnow
from monitor.errors import MonitorError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--actions",
    is_flag=True,
    help="Let token holders acknowledge events and mute sources or routes (default: read-only).",
)
@click.option("--root-path", default="", help="The path prefix a reverse proxy serves this under (/pledges).")
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies whose X-Forwarded-For/-Proto to trust (comma-separated, or *).",
)
@pass_app
def serve(app: App, host: str, port: int, actions: bool, root_path: str, forwarded_allow_ips: str) -> None:
    """Serve the pledge tracker and the JSON API (/api/) over the database `run` writes.

    Read-only by default, for a public tracker: no sign-in, no action pages, every POST
    refused. With --actions, people holding a token (see `pledge-monitor token create`)
    can acknowledge events and mute a source or a route until a date; each action is
    recorded in the integrity chain under the token's name.

    \b
    Examples:
      pledge-monitor serve
      pledge-monitor serve --host 0.0.0.0 --port 8080 --actions
      pledge-monitor serve --root-path /pledges --forwarded-allow-ips 10.0.0.2
    """
    import uvicorn

    from monitor.web.app import Web, create_app

    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise click.BadParameter(
            "give a path like /pledges (leading slash, none at the end)", param_hint="--root-path"
        )
    try:
        routes = [r.name for r in app.watchlist.routes]
    except MonitorError:
        routes = []  # a published tracker may run without the watchlist: routes come from the outbox
    store = app.store
    asgi = create_app(Web(store, actions_enabled=actions, routes=routes))
    mode = "actions for token holders" if actions else "read-only"
    click.echo(f"serving http://{host}:{port}{root_path}/ ({mode}); Ctrl+C stops", err=True)
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        root_path=root_path,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level="warning",
        server_header=False,
    )


@click.group()
def token() -> None:
    """Access tokens for `serve --actions`: create, list, revoke.

    \b
    Examples:
      pledge-monitor token create alice
      pledge-monitor token list
      pledge-monitor token revoke alice
    """


@token.command(name="create")
@click.argument("name")
@pass_app
def token_create(app: App, name: str) -> None:
    """Make a token named NAME and print it once (only its hash is stored).

    \b
    Example:
      pledge-monitor token create alice
    """
    from monitor.web.auth import digest, new_token

    name = name.strip()
    if not name or len(name) > 100 or any(ch.isspace() and ch != " " for ch in name):
        raise click.BadParameter("a name of 1 to 100 characters on one line", param_hint="NAME")
    value = new_token()
    app.store.actions.add_token(name, digest(value), utcnow())
    click.echo(value)
    click.echo(f"token {name!r} created: keep it now, it is not shown again", err=True)


@token.command(name="list")
@pass_app
def token_list(app: App) -> None:
    """The tokens by name, when made, and whether revoked (never the tokens).

    \b
    Example:
      pledge-monitor token list
    """

    found = app.store.actions.tokens()
    if not found:
        click.echo("No tokens: make one with `pledge-monitor token create NAME`.")
    for t in found:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC" if t.revoked_at else "active"
        click.echo(f"{t.name}  created {t.created_at:%Y-%m-%d %H:%M} UTC  {state}")


@token.command(name="revoke")
@click.argument("name")
@pass_app
def token_revoke(app: App, name: str) -> None:
    """Revoke the token named NAME: it stops working at once.

    \b
    Example:
      pledge-monitor token revoke alice
    """

    app.store.actions.revoke_token(name, utcnow())
    click.echo(f"token {name!r} revoked")


COMMANDS: list[click.Command] = [serve, token]
