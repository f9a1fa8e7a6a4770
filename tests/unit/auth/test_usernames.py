"""Folding typed user names as the IMAP server does."""

from __future__ import annotations

import pytest

from webmail.auth.ratelimit import network_of
from webmail.auth.usernames import canonical_username
from webmail.config import load_settings


@pytest.mark.parametrize(
    ("fmt", "typed", "canonical"),
    [
        ("%Lu", "  Carol@Example.ORG ", "carol@example.org"),
        ("%u", "Carol@Example.ORG", "Carol@Example.ORG"),
        ("%n", "Carol@alias7.example", "Carol"),
        ("%Ln", "Carol@alias7.example", "carol"),
        ("%Ln", "carol", "carol"),
    ],
)
def test_username_formats(fmt: str, typed: str, canonical: str) -> None:
    settings = load_settings(secret_key="k" * 40, imap_username_format=fmt)
    assert canonical_username(typed, settings) == canonical


def test_domain_aliases_map_or_drop_the_domain() -> None:
    settings = load_settings(secret_key="k" * 40, imap_domain_aliases="mail.example.org=example.org, local=")
    assert canonical_username("Carol@MAIL.example.org", settings) == "carol@example.org"
    assert canonical_username("carol@local", settings) == "carol"
    assert canonical_username("carol@other.example", settings) == "carol@other.example"


def test_ipv6_clients_share_their_64() -> None:
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("::ffff:192.0.2.7") == network_of("192.0.2.7") == "192.0.2.7"
    assert network_of("testclient") == "testclient"
