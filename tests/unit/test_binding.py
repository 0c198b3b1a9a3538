"""Device binding rules that need no request: reserved claims, the network of an address."""

from __future__ import annotations

import pytest

from authmanager._services.binding import ip_network


def test_binding_claims_cannot_come_from_caller_data() -> None:
    """`did`, `cnf`, `uah`, `ipn` are reserved: create_token_pair data may not set them."""
    from authmanager._core.issuer import split_data

    for name in ("did", "cnf", "uah", "ipn"):
        with pytest.raises(ValueError, match="set by authmanager"):
            split_data({"sub": "1", name: "x"})


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
        ("not-an-ip", None),
    ],
)
def test_ip_network_is_24_for_ipv4_and_64_for_ipv6(address: str, network: str | None) -> None:
    """The network compared is the /24 of an IPv4 address, the /64 of an IPv6 one."""
    assert ip_network(address) == network
