"""A DPoP client key (made by `cryptography`) and the proofs it signs (RFC 9449 §4)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.support.tokens import b64

BASE = "https://testserver"


class DPoPKey:
    """A client's DPoP key pair, and proofs signed with it (RFC 9449 §4)."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.private: Any
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        elif alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 thumbprint, computed here independently of authmanager."""
        members = {
            "EC": ("crv", "kty", "x", "y"),
            "RSA": ("e", "kty", "n"),
            "OKP": ("crv", "kty", "x"),
        }
        required = {k: self.jwk[k] for k in members[self.jwk["kty"]]}
        canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
        return b64(hashlib.sha256(canonical).digest())

    def proof(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        header: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A proof for *method* on BASE + *path*, bound to *access_token* when given."""
        body: dict[str, Any] = {
            "jti": jti or uuid.uuid4().hex,
            "htm": method,
            "htu": path if path.startswith(("http://", "https://")) else BASE + path,
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            body["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
        body.update(extra or {})
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(body, self.private, algorithm=self.alg, headers=headers)
