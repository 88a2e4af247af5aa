"""Client address of a request, trusting forwarding headers only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from .normalize import parse_ip

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIPResolver:
    """Resolve the client address from the socket peer and, behind trusted proxies, headers.

    `X-Forwarded-For` (or RFC 7239 `Forwarded`, which wins when both are present) is read
    right to left, skipping addresses of trusted proxies; the first untrusted hop is the
    client. With no trusted proxy configured, or a peer outside them, headers are ignored and
    the socket peer is the client, so a client cannot forge its address.

    A hop that is not an address (``unknown``, an RFC 7239 obfuscated name such as
    ``_hidden``, garbage) where the client should be gives None: the last trusted proxy could
    not name the client, and every hop left of it was written by the client itself, so none
    of them can be trusted. The peer is not returned either, because it is the proxy's own
    address and would rank every such failure under the proxy.
    """

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        networks: list[_Network] = []
        for entry in trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"invalid trusted proxy network {entry!r}: expected an address or CIDR "
                    "such as 10.0.0.0/8"
                ) from None
        self._trusted = tuple(networks)

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self._trusted)

    def resolve(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """Return the client address as text (IPv4-mapped IPv6 unwrapped), or None."""
        peer_ip = parse_ip(peer)
        if peer_ip is None:
            return None
        if not self._is_trusted(peer_ip):
            return str(peer_ip)
        hops = _forwarded_hops(headers)
        if not hops:
            return str(peer_ip)
        for hop in reversed(hops):
            address = parse_ip(hop)
            if address is None:
                return None
            if not self._is_trusted(address):
                return str(address)
        # Every hop is a trusted proxy: the leftmost one is the nearest to the client we know.
        return str(parse_ip(hops[0]))

    def from_request(self, request: Any) -> str | None:
        """Resolve the address of a Starlette/FastAPI request."""
        peer = request.client.host if request.client else None
        return self.resolve(peer, request.headers)


def _strip_port(value: str) -> str:
    """Return a hop without its port: ``[2001:db8::1]:443`` and ``192.0.2.1:443`` forms."""
    if value.startswith("[") and "]" in value:
        return value[1 : value.index("]")]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _forwarded_hops(headers: Mapping[str, str]) -> list[str]:
    forwarded = headers.get("forwarded")
    if forwarded:
        hops = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    hops.append(_strip_port(value.strip().strip('"')))
        return hops
    header = headers.get("x-forwarded-for", "")
    return [_strip_port(hop.strip()) for hop in header.split(",") if hop.strip()]
