"""`next` after a provider sign-in: a same-site relative path, or refused (pure logic)."""

from __future__ import annotations

import pytest

from authmanager.identities import safe_next_path

ACCEPTED = [
    "/",
    "/home",
    "/account/settings?tab=security#keys",
    "/search?q=a%20b",
    "/caf%C3%A9",
    "/files/a%2Fb",  # an encoded slash inside a segment is not at the start
    "/a//b",
    "/redirect?to=https://elsewhere.example",  # a query is the page's own business
]

REFUSED = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "relative/path",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%252F%252Fevil.example",  # double-encoded
    "/%25252F%25252Fevil.example",  # triple-encoded
    "/%09/evil.example",  # tab, which browsers drop
    "/\t/evil.example",
    "/\n/evil.example",
    "/x\r\nSet-Cookie: a=b",
    "/%0d%0aSet-Cookie:%20a=b",
    "/ /evil.example",
    "/%00",
    "/é",  # raw non-ASCII
    "/%EF%BC%8F/evil.example",  # fullwidth solidus: NFKC makes it "//evil.example"
    "/%E2%80%AE",  # right-to-left override
    "/%E2%80%A8",  # line separator
    "/%FF",  # not UTF-8
    "/" + "a" * 2048,
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_same_site_paths_are_accepted_unchanged(value: str) -> None:
    assert safe_next_path(value) == value


@pytest.mark.parametrize("value", [None, ""])
def test_no_next_means_the_root(value: str | None) -> None:
    assert safe_next_path(value) == "/"


@pytest.mark.parametrize("value", REFUSED)
def test_open_redirects_are_refused(value: str) -> None:
    """Each way of leaving the site, plain or hidden by encoding, is refused."""
    with pytest.raises(ValueError, match="next path"):
        safe_next_path(value)


def test_encoded_too_many_times_is_refused() -> None:
    value = "/a%2525252525252541"
    with pytest.raises(ValueError, match="too many times"):
        safe_next_path(value)
