"""ClientIPResolver: forwarding headers count only when the socket peer is a trusted proxy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sessionwatch.api_hooks.client_ip import ClientIPResolver
from starlette.datastructures import Headers

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48")


def resolve(peer: str | None, headers: dict[str, str], proxies: tuple[str, ...] = PROXIES
            ) -> str | None:
    resolved: str | None = ClientIPResolver(proxies).resolve(peer, Headers(headers))
    return resolved


@pytest.mark.parametrize(("peer", "headers", "expected"), [
    # Untrusted peers: headers are ignored, whatever they claim.
    ("203.0.113.9", {"X-Forwarded-For": "198.51.100.1"}, "203.0.113.9"),
    ("203.0.113.9", {"Forwarded": "for=198.51.100.1"}, "203.0.113.9"),
    ("::ffff:203.0.113.9", {}, "203.0.113.9"),
    # Trusted proxy: the rightmost untrusted hop is the client.
    ("10.0.0.1", {"X-Forwarded-For": "198.51.100.1"}, "198.51.100.1"),
    ("10.0.0.1", {"X-Forwarded-For": "1.1.1.1, 198.51.100.1, 10.0.0.7"}, "198.51.100.1"),
    ("10.0.0.1", {"X-Forwarded-For": " 198.51.100.1 ,10.2.3.4 "}, "198.51.100.1"),
    ("10.0.0.1", {"X-Forwarded-For": "::ffff:198.51.100.1"}, "198.51.100.1"),
    ("10.0.0.1", {}, "10.0.0.1"),
    ("10.0.0.1", {"X-Forwarded-For": ""}, "10.0.0.1"),
    # Every hop trusted: the leftmost one is the best guess.
    ("10.0.0.1", {"X-Forwarded-For": "10.9.9.9, 10.0.0.2"}, "10.9.9.9"),
    # RFC 7239 Forwarded, which wins over X-Forwarded-For.
    ("10.0.0.1", {"Forwarded": 'for="[2001:db8::5]:4711";proto=https'}, "2001:db8::5"),
    ("10.0.0.1", {"Forwarded": "for=198.51.100.1:8080"}, "198.51.100.1"),
    ("10.0.0.1", {"Forwarded": "for=198.51.100.1, for=10.0.0.9",
                  "X-Forwarded-For": "192.0.2.1"}, "198.51.100.1"),
    ("10.0.0.1", {"Forwarded": "proto=https;For=198.51.100.2"}, "198.51.100.2"),
    # IPv6 proxy.
    ("2001:db8:ffff::1", {"X-Forwarded-For": "2001:db8:1::9"}, "2001:db8:1::9"),
])
def test_client_ip_resolver_honours_trusted_proxies(peer: str, headers: dict[str, str],
                                                    expected: str) -> None:
    assert resolve(peer, headers) == expected


@pytest.mark.parametrize("header", [
    "garbage",
    "unknown",
    "_hidden",
    "1.2.3.4.5",
    "x" * 10_000,
    "\x00\xff",
])
def test_client_ip_resolver_garbage_hop_gives_none(header: str) -> None:
    resolved = resolve("10.0.0.1", {"X-Forwarded-For": header})
    forwarded = resolve("10.0.0.1", {"Forwarded": f"for={header}"})

    assert resolved is None
    assert forwarded is None


@pytest.mark.parametrize(("headers", "expected"), [
    # The proxy could not name the client: hops left of it came from the client, so none.
    ({"X-Forwarded-For": "198.51.100.1, unknown"}, None),
    ({"X-Forwarded-For": "198.51.100.1, unknown, 10.0.0.7"}, None),
    ({"Forwarded": "for=198.51.100.1, for=unknown"}, None),
    ({"Forwarded": 'for="_gazonk"'}, None),
    # An invalid hop left of the client is never reached.
    ({"X-Forwarded-For": "unknown, 198.51.100.1"}, "198.51.100.1"),
    ({"X-Forwarded-For": "not-an-ip, 198.51.100.1, 10.0.0.7"}, "198.51.100.1"),
    # Ports some proxies append are dropped.
    ({"X-Forwarded-For": "198.51.100.1:4711"}, "198.51.100.1"),
    ({"X-Forwarded-For": "[2001:db8::5]:443"}, "2001:db8::5"),
    # A header without any hop is ignored.
    ({"X-Forwarded-For": ",,,"}, "10.0.0.1"),
    ({"X-Forwarded-For": " "}, "10.0.0.1"),
])
def test_client_ip_resolver_invalid_hops(headers: dict[str, str], expected: str | None) -> None:
    assert resolve("10.0.0.1", headers) == expected


@pytest.mark.parametrize("peer", ["203.0.113.9", "::ffff:203.0.113.9"])
def test_client_ip_resolver_untrusted_peer_ignores_garbage(peer: str) -> None:
    assert resolve(peer, {"X-Forwarded-For": "unknown"}) == "203.0.113.9"


def test_client_ip_resolver_without_proxies_ignores_headers() -> None:
    assert resolve("10.0.0.1", {"X-Forwarded-For": "198.51.100.1"}, ()) == "10.0.0.1"


@pytest.mark.parametrize("peer", [None, "", "not-an-ip", "testclient"])
def test_client_ip_resolver_invalid_peer_gives_none(peer: str | None) -> None:
    assert resolve(peer, {"X-Forwarded-For": "198.51.100.1"}) is None


def test_client_ip_resolver_rejects_bad_proxy_network() -> None:
    with pytest.raises(ValueError, match=r"invalid trusted proxy network '10\.0\.0\.0/33'"):
        ClientIPResolver(["10.0.0.0/33"])


def test_client_ip_resolver_reads_starlette_request() -> None:
    request = SimpleNamespace(client=SimpleNamespace(host="10.0.0.1"),
                              headers=Headers({"X-Forwarded-For": "198.51.100.1"}))
    no_client = SimpleNamespace(client=None, headers=Headers({}))
    resolver = ClientIPResolver(PROXIES)

    assert resolver.from_request(request) == "198.51.100.1"
    assert resolver.from_request(no_client) is None
