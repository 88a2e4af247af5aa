"""Hypothesis properties of the parsers that the other test files do not already cover: the
window name, the client-address resolver, the planner's key names and the 422 messages.

Site, reason, address and session-id normalisers have theirs in tests/test_normalize.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sessionwatch.api_hooks.client_ip import ClientIPResolver
from sessionwatch.api_hooks.keys import KeySchema, RetentionConfig
from sessionwatch.api_hooks.normalize import (
    MAX_USER_ID_LENGTH,
    normalize_reason,
    normalize_site,
    normalize_user_id,
    parse_ip,
)
from sessionwatch.api_hooks.plan import EventPlanner, WriteBatch
from sessionwatch.exporter.app import validation_detail
from sessionwatch.exporter.windows import WINDOW_NAMES, InvalidWindowError, parse_window
from starlette.datastructures import Headers

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48")
RESOLVER = ClientIPResolver(PROXIES)

hostile_text = st.one_of(
    st.text(), st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(["15m", "5m\x00", "15M", " 1h", "7d", "24h\n", "\uff11\uff15\uff4d"]),
)
addresses = st.one_of(st.ip_addresses().map(str), st.text(max_size=50),
                      st.sampled_from(["unknown", "_hidden", "10.0.0.7", "::ffff:10.1.2.3"]))


@given(hostile_text)
def test_parse_window_known_or_short_error(name: str) -> None:
    try:
        window = parse_window(name)
    except InvalidWindowError as exc:
        message = str(exc)
        assert name not in WINDOW_NAMES
        assert message.startswith("invalid window ")
        # At most 20 characters of the name are shown, each escaped in at most 10.
        assert len(message) <= 60 + 10 * 21
    else:
        assert window.name == name
        assert name in WINDOW_NAMES


def header_value(hops: list[str]) -> str:
    """Join hops as a server presents a header: its UTF-8 bytes read as Latin-1, without the
    line breaks and NUL that an HTTP server rejects first."""
    text = ", ".join(hops).translate({ord(c): " " for c in "\r\n\x00"})
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


@given(st.one_of(addresses, st.none()), st.lists(addresses, max_size=6),
       st.sampled_from(["x-forwarded-for", "forwarded"]))
def test_client_ip_resolver_total_never_invents(peer: str | None, hops: list[str],
                                                header: str) -> None:
    value = header_value([f"for={hop}" if header == "forwarded" else hop for hop in hops])
    resolved = RESOLVER.resolve(peer, Headers({header: value}))

    peer_ip = parse_ip(peer)
    if resolved is None:
        return
    address = ipaddress.ip_address(resolved)
    assert str(address) == resolved
    if peer_ip is not None and not any(peer_ip in ipaddress.ip_network(p) for p in PROXIES):
        assert resolved == str(peer_ip)
    else:
        candidates = {str(parse_ip(hop)) for hop in value.replace("for=", "").split(",")}
        assert resolved in candidates | {str(peer_ip)}


@given(st.one_of(st.text(), st.binary(), st.none(), st.integers()),
       st.one_of(st.text(), st.none()), st.floats(allow_nan=True, allow_infinity=True))
def test_planner_keys_bounded_for_any_site(site: Any, reason: Any, at: float) -> None:
    schema = KeySchema("sessionwatch")
    planner = EventPlanner(schema, RetentionConfig(), ranking_cap=1000)
    batch = WriteBatch()
    moment = at if at == at and abs(at) < 1e12 else 1.7e9  # the recorder's clock is finite

    planner.failure(batch, moment, normalize_site(site), normalize_reason(reason), "server",
                    "203.0.113.0/24")

    for key, update in batch.updates.items():
        assert len(key.encode()) <= 128, key
        assert key.startswith("{sessionwatch")
        for member in update.increments:
            assert len(member.encode()) <= 512


@given(st.one_of(st.text(), st.binary(), st.none(), st.integers(), st.floats()))
def test_normalize_user_id_total_and_bounded(value: Any) -> None:
    user_id = normalize_user_id(value)

    assert user_id is None or len(user_id) <= MAX_USER_ID_LENGTH


@given(st.lists(st.fixed_dictionaries({
    "loc": st.lists(st.one_of(st.text(), st.integers()), max_size=3),
    "msg": st.text(max_size=200),
    "input": st.one_of(st.text(), st.binary(), st.integers(), st.none()),
}), max_size=10))
def test_validation_detail_bounded(errors: list[dict[str, Any]]) -> None:
    detail = validation_detail(errors)

    assert detail
    assert len(detail) <= 3 * (len("invalid  '': ") + 2 * 200 + 60) + 4
