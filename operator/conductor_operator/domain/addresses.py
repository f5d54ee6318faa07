"""Where a ConductorCluster may point: the operator's allowlist of hosts and networks (pure: no I/O).

A ConductorCluster URL is a request the operator makes on behalf of whoever may create one in any namespace it
watches, so a cluster admin decides where those requests may go (``CONDUCTOR_URL_ALLOW``, the chart's
``conductorUrlAllow``): a comma-separated list of

- networks in CIDR form (``10.0.0.0/8``, ``fd00::/8``) or single addresses (``10.1.2.3``),
- host name patterns (``conductor.example.com``, ``*.svc.cluster.local``; ``*`` matches any run of characters),
- ``*``: any host (the default, when the list is empty).

Whatever the list says, addresses where cloud metadata services answer are refused (link-local
``169.254.0.0/16`` and ``fe80::/10``, AWS's ``fd00:ec2::254``, Alibaba's ``100.100.100.200``, Azure's
``168.63.129.16``, also in their IPv4-mapped and NAT64 forms), and so are the metadata services' host names, unless
the list names that network (a CIDR entry containing the address) or that host name exactly. A host pattern never
lets a name through to a refused address: the address decides.

The shell checks a URL's host before it builds a client (``host_refusal``: names and literal addresses) and every
address the host resolves to when a connection is opened (``address_refusal``), so a DNS answer that changes
later cannot slip past.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSED_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, OpenStack, DigitalOcean metadata at 169.254.169.254
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "168.63.129.16/32",  # Azure's wire server
))
"""Refused unless a CIDR entry of the allowlist contains the address."""

REFUSED_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal",
    "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com", "metadata.platformequinix.com",
})
"""Cloud metadata service names; refused unless the allowlist names them exactly."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
HINT = "a cluster admin can allow it in the operator's CONDUCTOR_URL_ALLOW (the chart's conductorUrlAllow)"


def _host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not the address
    except ValueError:
        return None


def _embedded(address: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@dataclass(frozen=True)
class UrlAllowlist:
    """The parsed allowlist; the empty one allows any host except the refused ones."""

    networks: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()
    any_host: bool = True

    @classmethod
    def parse(cls, text: str | None) -> UrlAllowlist:
        """From ``CONDUCTOR_URL_ALLOW``; ValueError naming a bad entry."""
        entries = [e.strip() for e in (text or "").replace(" ", ",").split(",") if e.strip()]
        networks: list[Network] = []
        hosts: list[str] = []
        for entry in entries:
            if entry == "*":
                continue
            if "/" in entry or _address(entry) is not None:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not a network such as 10.0.0.0/8: {exc}") from None
            elif all(c.isalnum() or c in "-._*" for c in entry):
                hosts.append(_host(entry))
            else:
                raise ValueError(f"{entry!r} is neither a network (10.0.0.0/8) nor a host name pattern "
                                 "(*.svc.cluster.local)")
        return cls(tuple(networks), tuple(hosts), any_host=not entries or "*" in entries)

    def describe(self) -> str:
        if self.any_host:
            return "any host"
        return ", ".join([*map(str, self.networks), *self.hosts]) or "nothing"

    def _named(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)

    def _in_networks(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)

    def host_refusal(self, host: str | None) -> str | None:
        """Why a URL's host is refused before any connection (None: it may be tried). Names are judged again by
        the addresses they resolve to, at connect time."""
        if not host:
            return "the URL has no host"
        name = _host(host)
        if (address := _address(name)) is not None:
            return self.address_refusal(name, address)
        if name in REFUSED_HOSTS and name not in self.hosts:
            return f"{name} is a cloud metadata service's name, which the operator refuses; {HINT}"
        if not self.any_host and not self.networks and not self._named(name):
            return f"{name} is not among the hosts the operator may call ({self.describe()}); {HINT}"
        return None

    def address_refusal(self, host: str, address: Address | str) -> str | None:
        """Why connecting to ``address`` (which ``host`` resolved to) is refused; None when allowed."""
        parsed = _address(str(address)) if not isinstance(address, Address) else address
        if parsed is None:
            return f"{address} is not an IP address"
        name = _host(host)
        shown = parsed if str(parsed) == name else f"{name} ({parsed})"
        for candidate in {parsed, _embedded(parsed)}:
            if any(candidate.version == n.version and candidate in n for n in REFUSED_NETWORKS) \
                    and not self._in_networks(candidate):
                return (f"{shown} is a link-local or cloud metadata address, which the operator refuses "
                        f"(metadata services there hand out credentials); {HINT}")
        if self.any_host or self._named(name) or self._in_networks(parsed) or self._in_networks(_embedded(parsed)):
            return None
        return f"{shown} is not among the hosts and networks the operator may call ({self.describe()}); {HINT}"
