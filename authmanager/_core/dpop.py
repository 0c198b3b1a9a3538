"""DPoP proofs (RFC 9449): verification, `htu` normalisation, and the replay cache.

A proof is a JWS the client signs with its own key for one request. It is checked
with PyJWT and `cryptography` only; its `jti` is recorded in `authmanager_dpop_proofs`
by an INSERT that does nothing on a duplicate key, so a replay is refused on every
worker that shares the database.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy import delete, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.keys import public_jwk, thumbprint
from authmanager._core.models import dpop_proofs
from authmanager._core.settings import AuthSettings
from authmanager._core.store import TokenStore
from authmanager._core.text import same
from authmanager.exceptions import InvalidTokenError, Reason

__all__ = ["DPOP_HEADER", "DPoPVerifier", "access_token_hash", "normalize_htu"]

DPOP_HEADER = "DPoP"
MAX_PROOF_BYTES = 8192
_MAX_JTI = 256
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES: dict[str, tuple[type[Any], ...]] = {
    "ES256": (ec.EllipticCurvePublicKey,),
    "RS256": (rsa.RSAPublicKey,),
    "EdDSA": (ed25519.Ed25519PublicKey,),
}
_MIN_RSA_BITS = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: Delete expired replay rows on one proof in this many.
_PURGE_EVERY = 64


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """Return the `ath` of *token*: base64url(SHA-256(ASCII token)) (RFC 9449 §4.2)."""
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


def normalize_htu(url: str) -> str:
    """Return *url* without query and fragment, scheme and host lower-cased, default port dropped.

    Raises:
        ValueError: *url* is not an absolute http(s) or ws(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("htu must be an absolute http(s) URL.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def _refuse(message: str) -> InvalidTokenError:
    return InvalidTokenError(message, reason=Reason.DPOP)


class DPoPVerifier:
    """Verify the DPoP proofs of one manager's requests."""

    def __init__(self, settings: AuthSettings, store: TokenStore) -> None:
        self._algorithms = tuple(dict.fromkeys(settings.dpop_algorithms))
        self._max_age = timedelta(seconds=settings.dpop_proof_max_age_seconds)
        self._leeway = timedelta(seconds=settings.leeway_seconds)
        self._store = store
        self._counter = itertools.count(1)

    async def verify(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Check *proof* for *method* and *url* (and *access_token*); return its key's thumbprint.

        The proof's `jti` is recorded, so the same proof is refused the second time.

        Raises:
            InvalidTokenError: reason `dpop`; the proof is malformed, badly signed, for
                another request or token, too old, or replayed.
            TokenStoreUnavailableError: the replay cache could not be written.
        """
        claims, jkt = self._check_signature(proof)
        now = utcnow()
        iat = self._check_claims(claims, method=method, url=url, access_token=access_token, now=now)
        await self._remember(jkt, str(claims["jti"]), iat + self._max_age + self._leeway, session)
        return jkt

    def _check_signature(self, proof: str) -> tuple[dict[str, Any], str]:
        if len(proof) > MAX_PROOF_BYTES:
            raise _refuse("The DPoP proof is too large.")
        try:
            header = jwt.get_unverified_header(proof)
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError, UnicodeError):
            raise _refuse("The DPoP proof is malformed.") from None
        if header.get("typ") != "dpop+jwt":
            raise _refuse("The DPoP proof's typ must be dpop+jwt.")
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise _refuse("The DPoP proof's algorithm is not accepted.")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS.intersection(jwk):
            raise _refuse("The DPoP proof must carry a public jwk.")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise _refuse("The DPoP proof's jwk is not a usable key.") from None
        if not isinstance(key, _KEY_TYPES[alg]) or not _strong(key):
            raise _refuse("The DPoP proof's key does not fit its algorithm.")
        try:
            claims: dict[str, Any] = jwt.decode(
                proof,
                key=key,
                algorithms=[alg],
                options={
                    "require": ["iat", "jti", "htm", "htu"],
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise _refuse("The DPoP proof's signature is invalid.") from None
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            raise _refuse("The DPoP proof is malformed.") from None
        return claims, thumbprint(public_jwk(key))

    def _check_claims(
        self,
        claims: dict[str, Any],
        *,
        method: str,
        url: str,
        access_token: str | None,
        now: datetime,
    ) -> datetime:
        jti, htm, htu, iat = claims["jti"], claims["htm"], claims["htu"], claims["iat"]
        if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI:
            raise _refuse("The DPoP proof's jti is missing or too long.")
        if not isinstance(htm, str) or htm != method.upper():
            raise _refuse("The DPoP proof is for another HTTP method.")
        try:
            same_url = isinstance(htu, str) and normalize_htu(htu) == normalize_htu(url)
        except ValueError:
            same_url = False
        if not same_url:
            raise _refuse("The DPoP proof is for another URL.")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise _refuse("The DPoP proof's iat is not a number.")
        try:
            issued = datetime.fromtimestamp(iat, tz=now.tzinfo)
        except (OverflowError, OSError, ValueError):
            raise _refuse("The DPoP proof's iat is out of range.") from None
        if issued > now + self._leeway or issued < now - self._max_age - self._leeway:
            raise _refuse("The DPoP proof is too old or from the future.")
        ath = claims.get("ath")
        if access_token is not None and (
            not isinstance(ath, str) or not same(ath, access_token_hash(access_token))
        ):
            raise _refuse("The DPoP proof is for another access token.")
        return issued

    async def _remember(
        self, jkt: str, jti: str, expires_at: datetime, session: AsyncSession | None
    ) -> None:
        # surrogatepass: the jti is the client's JSON, where a lone surrogate is legal.
        key = hashlib.sha256(f"{jkt}:{jti}".encode("utf-8", "surrogatepass")).hexdigest()
        async with self._store.transaction(session) as db:
            if next(self._counter) % _PURGE_EVERY == 0:
                await db.execute(delete(dpop_proofs).where(dpop_proofs.c.expires_at < utcnow()))
            if not await _insert_once(db, key, expires_at):
                raise _refuse("The DPoP proof was already used.")


async def _insert_once(db: AsyncSession, key: str, expires_at: datetime) -> bool:
    """Insert the replay row; return False when the key is already there."""
    values = {"key": key, "expires_at": expires_at}
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(dpop_proofs).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(dpop_proofs).values(**values).on_conflict_do_nothing()
    else:
        try:
            async with db.begin_nested():
                await db.execute(insert(dpop_proofs).values(**values))
        except IntegrityError:
            return False
        return True
    result = await db.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


def _strong(key: Any) -> bool:
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= _MIN_RSA_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return isinstance(key.curve, ec.SECP256R1)
    return True
