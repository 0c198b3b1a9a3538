"""A software WebAuthn authenticator: the real counterpart of py_webauthn in the tests.

It does what a browser and a platform authenticator do together: an EC P-256 key per
credential (from `cryptography`), a real `attestationObject` ("none" format, CBOR),
`clientDataJSON`, `authenticatorData` with its flags and signature counter, and ECDSA
signatures over `authenticatorData || SHA-256(clientDataJSON)` (WebAuthn §6.3.3). Its
responses are shaped like `PublicKeyCredential.toJSON()` (base64url strings), which is
what a page posts to the server.

Knobs let a test produce what real authenticators may send: no user verification, a
synced (backup-eligible) passkey, no signature counter, a clone, another origin.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn JSON spells bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """One credential held by the authenticator (a discoverable one: it keeps the user)."""

    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key (RFC 9053 §7.1: EC2, ES256, P-256)."""
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftwareAuthenticator:
    """A platform authenticator in software, with the browser's part of each ceremony.

    Attributes:
        origin: The page's origin the browser reports in `clientDataJSON`.
        user_verification: Whether it verifies the user (sets UV).
        backup_eligible: Whether its credentials are synced passkeys (sets BE and BS).
        counts: Whether it keeps a signature counter (else it always reports 0).
    """

    origin: str = "https://example.com"
    user_verification: bool = True
    backup_eligible: bool = False
    counts: bool = True
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    # --- navigator.credentials.create() ---------------------------------------------
    def create(
        self, options: dict[str, Any], *, origin: str | None = None, reuse: bytes | None = None
    ) -> dict[str, Any]:
        """Answer registration options with a new credential (the JSON a page posts).

        With *reuse*, attest that existing credential again instead, ignoring the
        exclusion list (what a misbehaving client could send).
        """
        rp_id = options["rp"]["id"]
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials", [])}
        if reuse is not None:
            credential = self.credentials[reuse]
        elif excluded & set(self.credentials):
            raise RuntimeError("InvalidStateError: this authenticator holds an excluded credential")
        else:
            credential = Credential(
                credential_id=secrets.token_bytes(32),
                key=ec.generate_private_key(ec.SECP256R1()),
                rp_id=rp_id,
                user_handle=unb64url(options["user"]["id"]),
            )
        # A discoverable credential replaces an earlier one of the same RP and user.
        for known in list(self.credentials.values()):
            if known.rp_id == rp_id and known.user_handle == credential.user_handle:
                del self.credentials[known.credential_id]  # (or `credential` itself)
        self.credentials[credential.credential_id] = credential
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = (
            bytes(16)  # AAGUID: zero, as a "none" attestation may send
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._auth_data(rp_id, AT, credential.sign_count) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    # --- navigator.credentials.get() ------------------------------------------------
    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer request options with an assertion of a matching credential."""
        credential = self._pick(options, credential_id)
        if self.counts:
            credential.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(credential.rp_id, 0, credential.sign_count)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = credential.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def clone(self) -> SoftwareAuthenticator:
        """A copy holding the same keys and counters (an extracted, cloned authenticator)."""
        return copy.deepcopy(self)

    # --- internals ------------------------------------------------------------------
    def _pick(self, options: dict[str, Any], credential_id: bytes | None) -> Credential:
        rp_id = options.get("rpId")
        allowed = [unb64url(c["id"]) for c in options.get("allowCredentials", [])]
        for cid, credential in self.credentials.items():
            if credential_id is not None and cid != credential_id:
                continue
            if rp_id and credential.rp_id != rp_id:
                continue
            if allowed and cid not in allowed:
                continue
            return credential
        raise RuntimeError("NotAllowedError: no credential of this authenticator matches")

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}, separators=(",", ":")).encode()

    def _auth_data(self, rp_id: str, extra_flags: int, sign_count: int) -> bytes:
        flags = UP | extra_flags
        if self.user_verification:
            flags |= UV
        if self.backup_eligible:
            flags |= BE | BS
        return (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        )
