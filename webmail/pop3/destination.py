"""Which POP3 servers the webmail may connect to, so a user-entered host reaches nothing internal.

A POP3 account names any host and port, and the webmail connects from inside the operator's
network: without a check, "Test connection" and the background fetches would probe internal
services (server-side request forgery). By default only the POP3 ports (110, 995) on public
addresses are reachable; loopback, private, link-local, CGNAT (100.64/10), unique-local,
multicast and cloud metadata addresses are refused. The check runs on the addresses a name
resolves to, on every connect, and the connection goes to the checked address itself, so a DNS
answer that changes between the check and the connect (rebinding) cannot slip through.
Operators allow their own servers with ``WEBMAIL_POP3_ALLOWED_HOSTS`` and other ports with
``WEBMAIL_POP3_ALLOWED_PORTS``.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from webmail.config import Settings
from webmail.pop3.errors import POP3DestinationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits


def is_public(address: IPAddress) -> bool:
    """True for a globally routed unicast address, also one embedded in IPv6 (mapped, 6to4, NAT64)."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return True


def parse_address(host: str) -> IPAddress | None:
    """The IP address a host field spells, or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class Destinations:
    """The operator's rules: public addresses on the allowed ports, plus the allowed hosts."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]
    ports: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, settings: Settings) -> Destinations:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in settings.pop3_allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        ports = []
        for entry in settings.pop3_allowed_ports:
            low, _, high = entry.partition("-")
            ports.append((int(low), int(high or low)))
        return cls(frozenset(names), tuple(networks), tuple(ports))

    def port_problem(self, port: int) -> str | None:
        """Why a port is refused, or None."""
        if any(low <= port <= high for low, high in self.ports):
            return None
        names = [str(low) if low == high else f"{low}-{high}" for low, high in self.ports]
        listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
        return f"Only the POP3 ports {listed} can be used from this server."

    def address_allowed(self, host: str, address: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.names:
            return True
        if any(address in network for network in self.networks):
            return True
        return is_public(address)

    def literal_problem(self, host: str) -> str | None:
        """Why a typed host is refused without looking it up (an internal address), or None."""
        address = parse_address(host)
        if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(
            ".localhost"
        ):
            address = ipaddress.IPv4Address("127.0.0.1")
        if address is None or self.address_allowed(host, address):
            return None
        return POP3DestinationError.user_message

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """The allowed addresses to connect to, in the resolver's order.

        Raises POP3DestinationError for a port or addresses that are not allowed, and lets
        ``socket.gaierror`` through for a name that does not resolve.
        """
        if problem := self.port_problem(port):
            raise POP3DestinationError(problem)
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        allowed: list[tuple[str, int]] = []
        for _, _, _, _, sockaddr in found:
            address = parse_address(str(sockaddr[0]))
            target = (str(sockaddr[0]), port)
            if address is not None and self.address_allowed(host, address) and target not in allowed:
                allowed.append(target)
        if not allowed:
            raise POP3DestinationError()
        return allowed
