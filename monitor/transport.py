"""Connections for the fetch stage: pools per host, TLS trust, proxies; one GET sent, its response open.

The Fetcher sends its GETs through urllib3, the transport under ``requests``, and uses ``requests``
only for what it decides (URL preparation, which proxy applies, cookie rules across redirect hops).
A ``requests.Session`` call builds cookie jars, hooks and merged settings on every request: on a
cycle of 2,000 unchanged pages (304s) that was half the CPU of the cycle (1.0 s against 0.5 s
through urllib3 alone, docs/benchmarks.md). The settings ``requests`` would read from the
environment (proxies, NO_PROXY, a CA bundle) are read here, once per origin.
"""

from __future__ import annotations

import os
import ssl
import threading

import certifi
import urllib3
from requests.models import PreparedRequest
from requests.utils import get_auth_from_url, get_environ_proxies, select_proxy
from urllib3.util.ssl_ import create_urllib3_context

from monitor.errors import FetchError, MonitorError

# requests' own default: without "Connection" a recorded request would differ from what it sent
CONNECTION = "keep-alive"


class Transport:
    """Pools shared by the check threads: one manager for direct connections, one per proxy."""

    def __init__(self, pool_size: int) -> None:
        self._pool_size = pool_size
        self._tls = tls_context()
        self._direct = self._manager(None)
        self._proxied: dict[str, urllib3.PoolManager] = {}
        self._proxies: dict[str, str | None] = {}  # origin -> its proxy (dict writes are atomic)
        self._lock = threading.Lock()

    def send(self, url: str, headers: dict[str, str], timeout: float) -> urllib3.BaseHTTPResponse:
        """GET ``url`` as is (no redirects, no retries): the response's body is left to stream.

        Raises urllib3's errors and ``requests``' URL errors; the caller turns them into FetchErrors."""
        try:
            manager = self._for(self._proxy(origin(url)))
        except ImportError:
            reason = "its proxy is a SOCKS proxy, which needs the PySocks package"
            raise FetchError(url, reason, transient=False, kind="error") from None
        except urllib3.exceptions.ProxySchemeUnknown:  # its text would show the proxy URL, password and all
            reason = "its proxy (HTTP_PROXY, HTTPS_PROXY or ALL_PROXY) is not an http, https or socks URL"
            raise FetchError(url, reason, transient=False, kind="error") from None
        return manager.urlopen(
            "GET",
            url,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            preload_content=False,
            decode_content=True,
        )

    def _proxy(self, origin: str) -> str | None:
        """The environment is read once per origin for this transport's life, not per GET."""
        if origin not in self._proxies:
            self._proxies[origin] = proxy_for(origin)
        return self._proxies[origin]

    def close(self) -> None:
        self._direct.clear()
        with self._lock:
            for manager in self._proxied.values():
                manager.clear()
            self._proxied.clear()

    def _for(self, proxy: str | None) -> urllib3.PoolManager:
        if proxy is None:
            return self._direct
        with self._lock:
            manager = self._proxied.get(proxy)
            if manager is None:
                manager = self._proxied[proxy] = self._manager(proxy)
            return manager

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        size = self._pool_size
        if proxy is None:
            return urllib3.PoolManager(num_pools=size, maxsize=size, block=False, ssl_context=self._tls)
        if proxy.lower().startswith("socks"):
            return _socks_manager(proxy, size, self._tls)
        return urllib3.ProxyManager(
            proxy,
            num_pools=size,
            maxsize=size,
            block=False,
            ssl_context=self._tls,
            proxy_headers=_proxy_auth(proxy),
        )


def prepared_url(url: str) -> str:
    """The URL as ``requests`` would send it: IDNA host, percent-encoded path and query.

    Raises ``requests``' InvalidURL, MissingSchema or InvalidSchema for one it cannot send."""
    request = PreparedRequest()
    request.prepare_url(url, None)
    assert request.url is not None
    return request.url


def origin(url: str) -> str:
    """``scheme://host:port/`` of a URL: what the choice of proxy depends on."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0]}/"


def proxy_for(origin: str) -> str | None:
    """The proxy a GET to ``origin`` goes through, chosen from the environment (HTTP_PROXY,
    NO_PROXY...) as ``requests`` chooses it, or None."""
    return select_proxy(origin, dict(get_environ_proxies(origin)))


def tls_context() -> ssl.SSLContext:
    """Trust what ``requests`` trusts: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE if set, else certifi's."""
    variable = next((v for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(v)), None)
    bundle = os.environ[variable] if variable else certifi.where()
    context = create_urllib3_context()
    try:
        if os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
        else:
            context.load_verify_locations(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        where = f"{variable}={bundle}" if variable else bundle
        raise MonitorError(f"cannot read the CA certificates in {where}: {exc}") from None
    return context


def _proxy_auth(proxy: str) -> dict[str, str]:
    """Proxy-Authorization for a proxy URL that carries a user name, as ``requests`` sends it."""
    username, password = get_auth_from_url(proxy)
    if not username:
        return {}
    return dict(urllib3.make_headers(proxy_basic_auth=f"{username}:{password}"))


def _socks_manager(proxy: str, size: int, tls: ssl.SSLContext) -> urllib3.PoolManager:
    """Raises ImportError without PySocks (``requests`` needs it for SOCKS too)."""
    from urllib3.contrib.socks import SOCKSProxyManager

    username, password = get_auth_from_url(proxy)
    return SOCKSProxyManager(
        proxy, username or None, password or None, num_pools=size, maxsize=size, block=False, ssl_context=tls
    )
