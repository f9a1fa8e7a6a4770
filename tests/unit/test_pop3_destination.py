"""Which addresses the POP3 client may reach (the SSRF guard), without a network."""

from __future__ import annotations

import ipaddress

import pytest

from webmail.config import load_settings
from webmail.pop3.destination import Destinations, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "100.100.100.200", "0.0.0.0",  # noqa: S104
        "255.255.255.255", "224.0.0.1", "198.18.0.1", "::1", "::",
        "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        "64:ff9b::7f00:1", "2002:7f00:1::", "2001:db8::1",
    ],
)  # fmt: skip
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_operator_allow_list_of_names_networks_and_ports() -> None:
    settings = load_settings(
        secret_key="k" * 40,
        pop3_allowed_hosts=["pop.internal.example", "10.1.0.0/16"],
        pop3_allowed_ports=["995", "1100-1199"],
    )
    destinations = Destinations.of(settings)
    assert destinations.address_allowed("pop.internal.example", ipaddress.ip_address("10.9.9.9"))
    assert destinations.address_allowed("other.example", ipaddress.ip_address("10.1.2.3"))
    assert not destinations.address_allowed("other.example", ipaddress.ip_address("10.2.0.1"))
    assert destinations.port_problem(1150) is None
    assert (
        destinations.port_problem(110)
        == "Only the POP3 ports 995 and 1100-1199 can be used from this server."
    )
    assert destinations.literal_problem("localhost") is not None
    assert destinations.literal_problem("10.1.0.9") is None
    assert destinations.literal_problem("pop.example.com") is None  # names are checked when resolved
