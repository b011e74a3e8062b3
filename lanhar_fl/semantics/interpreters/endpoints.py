"""Loopback means loopback: local-only HTTP endpoints, checked by resolution and pinned.

A host name counts as local only if EVERY address it resolves to is a loopback address (a name
such as ``evil.localhost`` is looked up, not trusted). Requests to a local endpoint go through
:func:`local_opener`: no proxy (``http_proxy`` and friends are ignored, so the body never reaches
a proxy) and each connection re-resolves the host and connects to one of those loopback
addresses itself, so a name that re-resolves elsewhere between check and use is refused too.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request


class NotLoopback(OSError):
    """A local-only endpoint's host does not resolve, or resolves to a non-loopback address."""


def _is_loopback_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def loopback_addresses(host: str, port: int | None = None) -> list[tuple]:
    """``getaddrinfo`` results for ``host`` (TCP); raises :class:`NotLoopback` unless there is
    at least one and every one is a loopback address."""
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NotLoopback(f"{host} does not resolve ({exc})") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    outside = [a for a in addresses if not _is_loopback_address(a)]
    if not addresses or outside:
        raise NotLoopback(f"{host} resolves to {', '.join(outside) or 'nothing'}, not a "
                          "loopback address")
    return infos


def is_loopback(host: str | None) -> bool:
    """True when ``host`` resolves, and only to loopback addresses."""
    if not host:
        return False
    try:
        loopback_addresses(host)
    except NotLoopback:
        return False
    return True


def _connect_loopback(address: tuple[str, int], timeout: object = socket._GLOBAL_DEFAULT_TIMEOUT,
                      source_address: tuple[str, int] | None = None) -> socket.socket:
    """``socket.create_connection`` for a local-only endpoint: resolve now, require loopback,
    connect to the resolved address (never to the name, which could resolve again)."""
    host, port = address
    error: OSError | None = None
    for _family, _type, _proto, _name, sockaddr in loopback_addresses(host, port):
        try:
            return socket.create_connection((sockaddr[0], sockaddr[1]), timeout, source_address)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


class _LoopbackHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_loopback


class _LoopbackHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_loopback  # TLS still checks the original name


class _LoopbackHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_LoopbackHTTPConnection, req)


class _LoopbackHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_LoopbackHTTPSConnection, req, context=self._context)


def local_opener() -> urllib.request.OpenerDirector:
    """A urllib opener for local-only endpoints: no proxies, loopback connections only (also
    for any redirect it follows)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _LoopbackHTTPHandler(),
                                       _LoopbackHTTPSHandler())
