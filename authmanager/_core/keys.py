"""KeyRing: the signing key, the keys that still verify, their ids and the JWKS document."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authmanager._core.settings import AuthSettings

__all__ = ["KeyRing", "VerificationKey"]

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def public_jwk(key: _PublicKey) -> dict[str, str]:
    """Return the RFC 7517 members of a public key (without `kid`, `alg`, `use`)."""
    if isinstance(key, rsa.RSAPublicKey):
        rsa_numbers = key.public_numbers()
        return {"kty": "RSA", "n": _int_b64(rsa_numbers.n), "e": _int_b64(rsa_numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(size, "big")),
            "y": _b64(numbers.y.to_bytes(size, "big")),
        }
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}


def thumbprint(jwk: dict[str, str]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public JWK, base64url-encoded."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def _check_key_type(algorithm: str, key: _PublicKey) -> None:
    expected: dict[str, type[Any]] = {
        "RS256": rsa.RSAPublicKey,
        "ES256": ec.EllipticCurvePublicKey,
        "EdDSA": ed25519.Ed25519PublicKey,
    }
    if not isinstance(key, expected[algorithm]):
        raise ValueError(f"The configured key does not fit JWT_ALGORITHM={algorithm}.")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ValueError("RSA keys shorter than 2048 bits are refused.")
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key.")


def _load_pem(pem: bytes, algorithm: str) -> tuple[_PrivateKey | None, _PublicKey]:
    """Load a private or public PEM key, returning (private or None, public)."""
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        try:
            public = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError("A configured key is not a PEM private or public key.") from exc
        if not isinstance(public, _PublicKey):
            raise ValueError("Unsupported public key type.") from None
        _check_key_type(algorithm, public)
        return None, public
    if not isinstance(private, _PrivateKey):
        raise ValueError("Unsupported private key type.")
    _check_key_type(algorithm, private.public_key())
    return private, private.public_key()


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One key that verifies tokens: its id and the object PyJWT takes."""

    kid: str
    key: Any
    jwk: dict[str, str] | None


class KeyRing:
    """The current signing key and the previous keys that still verify.

    Keys are loaded once, when the manager is built; every token carries the `kid`
    of the key that signed it, and verification looks the key up by that id only.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.algorithm: str = settings.algorithm
        self.symmetric = settings.algorithm.startswith("HS")
        current, signing_key = self._load_current(settings)
        self.current = current
        self.signing_key: Any = signing_key
        self._verifiers: dict[str, VerificationKey] = {current.kid: current}
        for secret in settings.previous_keys:
            previous = self._load_verifier(secret.get_secret_value().encode())
            self._verifiers.setdefault(previous.kid, previous)

    def _load_current(self, settings: AuthSettings) -> tuple[VerificationKey, Any]:
        if self.symmetric:
            secret = settings.secret_key.get_secret_value().encode()
            return self._load_verifier(secret), secret
        if settings.private_key is not None:
            pem = settings.private_key.get_secret_value().encode()
        else:
            assert settings.private_key_file is not None  # noqa: S101 - checked by settings
            pem = Path(settings.private_key_file).read_bytes()
        private, public = _load_pem(pem, self.algorithm)
        if private is None:
            raise ValueError("The signing key must be a private key, not a public one.")
        jwk = public_jwk(public)
        return VerificationKey(thumbprint(jwk), public, jwk), private

    def _load_verifier(self, material: bytes) -> VerificationKey:
        if self.symmetric:
            # The kid names the secret without revealing it: a domain-separated hash.
            digest = hashlib.sha256(b"authmanager/kid\x00" + material).digest()
            return VerificationKey("hs-" + _b64(digest[:12]), material, None)
        _, public = _load_pem(material, self.algorithm)
        jwk = public_jwk(public)
        return VerificationKey(thumbprint(jwk), public, jwk)

    def verifier(self, kid: object) -> VerificationKey | None:
        """Return the key with this id, or `None` for an unknown or non-string id."""
        if not isinstance(kid, str):
            return None
        return self._verifiers.get(kid)

    @property
    def kids(self) -> tuple[str, ...]:
        """Ids of every key that verifies, the current one first."""
        return tuple(self._verifiers)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Return the RFC 7517 JWK Set of the public keys; empty for HS* algorithms."""
        keys = []
        for verifier in self._verifiers.values():
            if verifier.jwk is not None:
                keys.append(
                    {**verifier.jwk, "kid": verifier.kid, "alg": self.algorithm, "use": "sig"}
                )
        return {"keys": keys}
