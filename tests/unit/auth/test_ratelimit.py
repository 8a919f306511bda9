"""What a per-IP limit counts: one IPv4 address, or one IPv6 /64 (what one subscriber is given)."""

from __future__ import annotations

from gardenos.auth.ratelimit import client_key


def test_ipv6_addresses_of_one_subscriber_share_a_budget() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")


def test_ipv4_and_mapped_ipv4_are_one_address() -> None:
    assert client_key("192.0.2.7") == client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "?"
