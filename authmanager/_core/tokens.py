"""TokenCodec: claims, signing and verification of JWTs; `TokenPair` and `TokenPayload`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from authmanager._core.keys import KeyRing
from authmanager._core.settings import AuthSettings
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason

__all__ = ["TokenCodec", "TokenPair", "TokenPayload", "TokenType"]

TokenType = Literal["access", "refresh"]

#: Claims the library sets itself; `data` may not override them.
RESERVED_CLAIMS = frozenset(
    {"jti", "sid", "type", "iat", "exp", "nbf", "aud", "iss", "fresh", "amr", "act"}
    # Binding claims (device id, DPoP key, User-Agent digest, network): see `_binding.py`.
    | {"did", "cnf", "uah", "ipn"}
)
#: Header parameters that would let a token choose its own verification key (RFC 8725 §3.10).
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
_REQUIRED = ["exp", "iat", "sub", "jti", "sid", "type"]
_TYP = {"access": "at+jwt", "refresh": "rt+jwt"}
#: The JWS compact form with unpadded base64url segments, nothing else (RFC 7515 §7.1).
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token and a refresh token of one login session.

    Read by attribute or by key: `pair.access_token` or `pair["access_token"]`.

    Attributes:
        access_token: The bearer token for `Authorization: Bearer`.
        refresh_token: The token that `refresh()` rotates.
        token_type: Always `"bearer"`.
        expires_in: Seconds until the access token expires.
        refresh_expires_in: Seconds until the refresh token expires.
        session_id: The login session both tokens belong to.
        scope: The scopes granted, space-separated, when the login asked for some
            (RFC 6749 §3.3); None otherwise.
    """

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    session_id: str
    token_type: str = "bearer"
    scope: str | None = None

    def __getitem__(self, key: str) -> str | int:
        if key not in {
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "refresh_expires_in",
            "session_id",
        }:
            raise KeyError(key)
        value: str | int = getattr(self, key)
        return value

    def __repr__(self) -> str:
        return f"TokenPair(session_id={self.session_id!r}, expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True, repr=False)
class TokenPayload(Mapping[str, Any]):
    """The verified claims of a token.

    Standard claims are typed attributes; every claim, custom ones included, is also
    readable as a mapping: `payload["device_id"]`, `payload.get("roles")`.
    """

    claims: Mapping[str, Any] = field(repr=False)
    sub: str
    jti: str
    sid: str
    type: TokenType
    exp: datetime
    iat: datetime
    aud: str | list[str] | None
    iss: str | None
    scopes: list[str]
    #: How the user signed in: RFC 8176 `amr` values (`pwd`, `otp`, `hwk`, `mfa`, ...).
    amr: list[str] = field(default_factory=list)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> TokenPayload:
        """Build a payload from claims that PyJWT already verified."""
        scopes = claims.get("scopes", [])
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise InvalidTokenError("The scopes claim is malformed.", reason=Reason.MALFORMED)
        amr = claims.get("amr", [])
        if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
            raise InvalidTokenError("The amr claim is malformed.", reason=Reason.MALFORMED)
        return cls(
            claims=claims,
            sub=claims["sub"],
            jti=claims["jti"],
            sid=claims["sid"],
            type=claims["type"],
            exp=datetime.fromtimestamp(claims["exp"], UTC),
            iat=datetime.fromtimestamp(claims["iat"], UTC),
            aud=claims.get("aud"),
            iss=claims.get("iss"),
            scopes=list(scopes),
            amr=list(amr),
        )

    @property
    def extra(self) -> dict[str, Any]:
        """The custom claims: every claim the library does not set itself."""
        return {k: v for k, v in self.claims.items() if k not in RESERVED_CLAIMS and k != "sub"}

    def __getitem__(self, key: str) -> Any:
        return self.claims[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)

    def __repr__(self) -> str:
        return f"TokenPayload(sub={self.sub!r}, type={self.type!r}, sid={self.sid!r})"


def _is_claim_int(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class TokenCodec:
    """Sign and verify tokens; pure and synchronous, it never touches the database.

    The algorithm is pinned by the settings and never read from a token; the key is
    chosen by `kid` among the KeyRing's keys only.
    """

    def __init__(self, settings: AuthSettings, keys: KeyRing) -> None:
        self._keys = keys
        self._algorithm = settings.algorithm
        self._leeway = settings.leeway_seconds
        self._max_bytes = settings.max_token_bytes
        self._issuer = settings.issuer
        self.default_audience: str = settings.audience or self.derived_audience(
            keys.current.kid, settings
        )
        # While previous keys verify, the audiences derived from them verify too.
        self._accepted_default: list[str] = (
            [settings.audience]
            if settings.audience
            else [self.derived_audience(kid, settings) for kid in keys.kids]
        )
        self._pyjwt = jwt.PyJWT()

    @staticmethod
    def derived_audience(kid: str, settings: AuthSettings) -> str:
        """Return the audience used when none is configured, unique to key and mount."""
        basis = f"{kid}|{settings.issuer or ''}|{settings.route_prefix}".encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(basis).digest()[:12]).decode()
        return f"urn:authmanager:{digest}"

    def encode(
        self,
        claims: Mapping[str, Any],
        *,
        token_type: TokenType,
        issued_at: datetime,
        lifetime: timedelta,
        audience: str | None,
        issuer: str | None,
    ) -> str:
        """Sign *claims* (which already hold `sub`, `jti`, `sid`) as a token of *token_type*."""
        body: dict[str, Any] = dict(claims)
        body["type"] = token_type
        body["iat"] = int(issued_at.timestamp())
        body["exp"] = int((issued_at + lifetime).timestamp())
        body["aud"] = audience or self.default_audience
        iss = issuer or self._issuer
        if iss:
            body["iss"] = iss
        headers = {"kid": self._keys.current.kid, "typ": _TYP[token_type]}
        return jwt.encode(body, self._keys.signing_key, algorithm=self._algorithm, headers=headers)

    def decode(
        self,
        token: object,
        *,
        token_type: TokenType,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> TokenPayload:
        """Verify *token* and return its payload.

        Raises:
            ExpiredTokenError: `exp` is past (beyond the leeway).
            InvalidTokenError: anything else: size, format, header, key, signature,
                claims, audience, issuer or type; `reason` says which.
        """
        if not isinstance(token, str):
            raise InvalidTokenError("The token is not a string.", reason=Reason.MALFORMED)
        if len(token) > self._max_bytes:
            raise InvalidTokenError("The token is too large.", reason=Reason.OVERSIZED)
        header = self._header(token)
        verifier = self._keys.verifier(header.get("kid"))
        if verifier is None:
            raise InvalidTokenError("The token's key is unknown.", reason=Reason.UNKNOWN_KEY)
        claims = self._verify(token, verifier.key, audience, issuer)
        if claims.get("type") != token_type or header.get("typ") != _TYP[token_type]:
            raise InvalidTokenError(
                f"An {token_type} token was expected.", reason=Reason.WRONG_TYPE
            )
        if not all(
            isinstance(claims[name], str) and claims[name] for name in ("sub", "jti", "sid")
        ):
            raise InvalidTokenError("The token's identifiers are malformed.")
        if not (_is_claim_int(claims["exp"]) and _is_claim_int(claims["iat"])):
            raise InvalidTokenError("The token's times are malformed.")
        return TokenPayload.from_claims(claims)

    def _header(self, token: str) -> dict[str, Any]:
        if not _is_canonical(token):
            raise InvalidTokenError("The token is malformed.", reason=Reason.MALFORMED)
        # Parsed here, not by PyJWT, so a forbidden header is named as such even when
        # PyJWT would refuse it for another reason (an unknown `crit`, a non-string kid).
        segment = token.partition(".")[0]
        try:
            header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        except (ValueError, TypeError, RecursionError) as exc:
            raise InvalidTokenError("The token is malformed.", reason=Reason.MALFORMED) from exc
        if not isinstance(header, dict):
            raise InvalidTokenError("The token's header is malformed.", reason=Reason.MALFORMED)
        if FORBIDDEN_HEADERS.intersection(header):
            raise InvalidTokenError(
                "The token names its own key, which is refused.", reason=Reason.FORBIDDEN_HEADER
            )
        if header.get("alg") != self._algorithm:
            raise InvalidTokenError(
                "The token's algorithm is not accepted.", reason=Reason.ALGORITHM
            )
        return header

    def _verify(
        self, token: str, key: Any, audience: str | None, issuer: str | None
    ) -> dict[str, Any]:
        expected_aud: str | list[str] = audience or self._accepted_default
        try:
            claims: dict[str, Any] = self._pyjwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=expected_aud,
                issuer=issuer or self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED, "strict_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ExpiredTokenError("The token has expired.") from exc
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError, UnicodeError) as exc:
            raise _translate(exc) from exc
        return claims


def _is_canonical(token: str) -> bool:
    """Return whether *token* is compact JWS whose signature has one spelling only.

    Python's base64 decoder ignores padding, spare bits and stray characters, so
    several strings would decode to the same signature; only the canonical one passes.
    """
    if not _COMPACT.fullmatch(token):
        return False
    signature = token.rpartition(".")[2]
    if len(signature) % 4 == 1:
        return False
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == signature


def _translate(exc: Exception) -> InvalidTokenError:
    """Map a PyJWT (or parser) error to our exception with a stable reason."""
    table: list[tuple[type[Exception], Reason, str]] = [
        (jwt.InvalidSignatureError, Reason.SIGNATURE, "The token's signature is invalid."),
        (jwt.InvalidAudienceError, Reason.WRONG_AUDIENCE, "The token is for another audience."),
        (jwt.InvalidIssuerError, Reason.WRONG_ISSUER, "The token is from another issuer."),
        (jwt.MissingRequiredClaimError, Reason.MISSING_CLAIM, "The token lacks a required claim."),
        (jwt.ImmatureSignatureError, Reason.NOT_YET_VALID, "The token is not valid yet."),
        (jwt.InvalidAlgorithmError, Reason.ALGORITHM, "The token's algorithm is not accepted."),
    ]
    if isinstance(exc, jwt.ImmatureSignatureError) and "(iat)" in str(exc):
        return InvalidTokenError(
            "The token was issued in the future.", reason=Reason.ISSUED_IN_FUTURE
        )
    for kind, reason, message in table:
        if isinstance(exc, kind):
            return InvalidTokenError(message, reason=reason)
    return InvalidTokenError("The token is malformed.", reason=Reason.MALFORMED)


def dumps_claims(claims: Mapping[str, Any]) -> str:
    """Serialise custom claims for storage (compact JSON)."""
    return json.dumps(dict(claims), separators=(",", ":"), sort_keys=True)
