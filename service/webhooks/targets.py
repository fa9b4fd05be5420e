"""Which webhook targets may be called: a URL whose host is, or resolves to, a loopback, private,
link-local, multicast or otherwise reserved address is refused (server-side request forgery: a
tenant must not reach the operator's internal services), unless the operator allows that network
(CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS, e.g. 127.0.0.0/8 for a receiver on the same host).

Checked when a subscription is saved and again before every delivery (the name may resolve
elsewhere by then)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetNotAllowed(ValueError):
    """The URL's host is (or resolves to) an address outside the public internet."""


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS: CIDRs separated by commas or spaces."""
    return tuple(ipaddress.ip_network(part, strict=False) for part in text.replace(",", " ").split())


def _is_internal(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global)


def refused_addresses(addresses: Iterable[IpAddress], allowed: Sequence[IpNetwork]) -> list[IpAddress]:
    """The internal addresses among `addresses` that no allowed network covers."""
    return [a for a in addresses if _is_internal(a) and not any(a in net for net in allowed if a.version == net.version)]


def host_of(url: str) -> str:
    host = urlsplit(url).hostname
    if not host:
        raise TargetNotAllowed(f"no host in {url!r}")
    return host


async def resolve(host: str, port: int | None = None) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))


async def check_target(url: str, allowed: Sequence[IpNetwork], *, unresolvable_ok: bool = False) -> None:
    """Raises TargetNotAllowed when the URL's host is or resolves to an internal address. A name that
    does not resolve (yet) passes when `unresolvable_ok` (saving a subscription before its DNS
    exists); at delivery time it is an ordinary connection failure."""
    host = host_of(url)
    try:
        addresses = await resolve(host, urlsplit(url).port)
    except (OSError, UnicodeError) as exc:
        if unresolvable_ok:
            return
        raise TargetNotAllowed(f"{host} does not resolve: {exc}") from exc
    refused = refused_addresses(addresses, allowed)
    if refused:
        raise TargetNotAllowed(f"{host} resolves to {', '.join(map(str, refused))}, which is not a public address "
                               "(allow it with CAMPAIGNS_WEBHOOK_ALLOWED_NETWORKS)")
