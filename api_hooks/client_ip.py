"""Client address of a request, trusting forwarding headers only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from .normalize import parse_ip

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIPResolver:
    """Resolve the client address from the socket peer and, behind trusted proxies, headers.

    `X-Forwarded-For` (or RFC 7239 `Forwarded`) is read right to left, skipping addresses of
    trusted proxies; the first untrusted one is the client. With no trusted proxy configured,
    headers are ignored and the socket peer is the client, so a client cannot forge its address.
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

    def _is_trusted(self, address: str | None) -> bool:
        parsed = parse_ip(address)
        return parsed is not None and any(parsed in network for network in self._trusted)

    def resolve(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """Return the client address as text (IPv4-mapped IPv6 unwrapped), or None."""
        peer_ip = parse_ip(peer)
        if peer_ip is None or not self._is_trusted(str(peer_ip)):
            return None if peer_ip is None else str(peer_ip)
        hops = _forwarded_hops(headers)
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                parsed = parse_ip(hop)
                return str(parsed) if parsed is not None else str(peer_ip)
        return str(parse_ip(hops[0])) if hops and parse_ip(hops[0]) else str(peer_ip)

    def from_request(self, request: Any) -> str | None:
        """Resolve the address of a Starlette/FastAPI request."""
        peer = request.client.host if request.client else None
        return self.resolve(peer, request.headers)


def _forwarded_hops(headers: Mapping[str, str]) -> list[str]:
    forwarded = headers.get("forwarded")
    if forwarded:
        hops = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    value = value.strip().strip('"')
                    if value.startswith("[") and "]" in value:
                        value = value[1 : value.index("]")]
                    elif value.count(":") == 1:
                        value = value.split(":", 1)[0]
                    hops.append(value)
        return hops
    header = headers.get("x-forwarded-for", "")
    return [hop.strip() for hop in header.split(",") if hop.strip()]
