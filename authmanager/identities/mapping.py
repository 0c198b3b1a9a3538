"""From a provider's answer to an `ExternalIdentity`: ID token claims or userinfo fields."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from authmanager._core.config.identities import UserinfoFields
from authmanager.identities.oauth import provider_error
from authmanager.identities.types import ExternalIdentity

__all__ = ["from_claims", "from_userinfo", "merge_userinfo"]

_MAX_SUBJECT = 255
_MAX_EMAIL = 320
_MAX_NAME = 255


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 0 < len(value) <= limit else None


def _verified(value: object) -> bool:
    # Only a JSON true counts: "false" is a truthy string, and absent means unknown.
    return value is True


def from_claims(provider: str, issuer: str, claims: Mapping[str, Any]) -> ExternalIdentity:
    """The identity of verified ID token *claims* (and any merged userinfo)."""
    email = _text(claims.get("email"), _MAX_EMAIL)
    return ExternalIdentity(
        provider=provider,
        issuer=issuer,
        subject=str(claims["sub"]),
        email=email,
        email_verified=email is not None and _verified(claims.get("email_verified")),
        name=_text(claims.get("name"), _MAX_NAME),
        claims=MappingProxyType(dict(claims)),
    )


def merge_userinfo(
    name: str, claims: Mapping[str, Any], userinfo: Mapping[str, Any]
) -> dict[str, Any]:
    """Add userinfo's email and name to ID token *claims* that lack them.

    Raises:
        AuthError: `PROVIDER_ERROR`, userinfo is about another subject (OIDC Core
            §5.3.4: it could be a substituted answer).
    """
    if userinfo.get("sub") != claims["sub"]:
        raise provider_error(name, "userinfo", "sub differs from the ID token's")
    merged = dict(claims)
    for key in ("email", "email_verified", "name"):
        if key not in merged and key in userinfo:
            merged[key] = userinfo[key]
    return merged


def from_userinfo(
    provider: str, issuer: str, fields: UserinfoFields, info: Mapping[str, Any]
) -> ExternalIdentity:
    """The identity of a plain OAuth 2.0 provider's userinfo answer.

    Raises:
        AuthError: `PROVIDER_ERROR`, the answer has no usable subject.
    """
    raw = info.get(fields.subject)
    # GitHub's ids are numbers; a bool is a JSON true/false, never an id.
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    subject = _text(raw, _MAX_SUBJECT)
    if subject is None:
        raise provider_error(provider, "userinfo", "no subject")
    email = _text(info.get(fields.email), _MAX_EMAIL) if fields.email else None
    verified = fields.email_verified is not None and _verified(info.get(fields.email_verified))
    return ExternalIdentity(
        provider=provider,
        issuer=issuer,
        subject=subject,
        email=email,
        email_verified=email is not None and verified,
        name=_text(info.get(fields.name), _MAX_NAME) if fields.name else None,
        claims=MappingProxyType(dict(info)),
    )
