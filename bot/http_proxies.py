"""Client addresses behind proxies: whom rate limits and logs count a request as, and the
limits per address.
"""

from __future__ import annotations

import ipaddress
import math

from aiohttp import web

from .config import IPNetwork
from .http_common import (
    CONFIG,
    STORE,
    error_response,
)
from .ratelimit import RateLimiter


def client_address(request: web.Request) -> str:
    """The client's address, as rate limits and logs know it.

    The peer's address, unless the peer is a proxy listed in ``--forwarded-allow-ips``:
    then the right-most X-Forwarded-For entry that is not itself such a proxy (each proxy
    appends the address it saw, so entries left of the last trusted one are the client's
    own claims). A header from any other peer is ignored.
    """
    peer = request.remote or "unknown"
    trusted = request.app[CONFIG].forwarded_allow_ips
    if not trusted or not _is_trusted(_parse_address(peer), trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ())
            for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _parse_address(hop)
        client = str(address) if address is not None else hop[:64]
        if not _is_trusted(address, trusted):
            return client
    return client  # every hop a trusted proxy: the left-most is as far as anyone can tell


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or an X-Forwarded-For entry ("[::1]:443" and "1.2.3.4:80" too)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
                trusted: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


async def rate_limited(request: web.Request, kind: str, limiter: RateLimiter, what: str
                        ) -> web.Response | None:
    """The 429 for a client address over ``limiter`` (counted under ``kind``), or None."""
    address = client_address(request)
    waiting = await request.app[STORE].take(f"{kind}:{address}", limiter)
    if not waiting:
        return None
    wait = max(1, math.ceil(waiting))
    return error_response(429, "rate_limited",
                          f"Too many {what} from this address; retry in {wait} s.",
                          headers={"Retry-After": str(wait)})
