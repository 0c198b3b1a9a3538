"""Ceremonies: WebAuthn options and response checks over py_webauthn (the `webauthn` package).

No storage here: the caller consumes the challenge a response names (`challenge_of`)
before verifying it, and keeps the credential's public key and signature counter.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authmanager.exceptions import InvalidCredentialsError, Reason
from authmanager.mfa.types import Credential

try:
    from webauthn import (
        generate_authentication_options,
        generate_registration_options,
        verify_authentication_response,
        verify_registration_response,
    )
    from webauthn.helpers import (
        base64url_to_bytes,
        bytes_to_base64url,
        options_to_json_dict,
        parse_authentication_credential_json,
        parse_client_data_json,
        parse_registration_credential_json,
    )
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticationCredential,
        AuthenticatorSelectionCriteria,
        AuthenticatorTransport,
        CredentialDeviceType,
        PublicKeyCredentialDescriptor,
        RegistrationCredential,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("Passkeys need py_webauthn: pip install 'authmanager[mfa]'.") from exc

__all__ = ["Assertion", "Ceremonies", "NewPasskey", "credential_key"]

logger = logging.getLogger("authmanager.mfa")

#: A credential response larger than this is refused before parsing (real ones are < 4 KiB).
MAX_RESPONSE_CHARS = 65536


def credential_key(raw_id: bytes) -> str:
    """Return the look-up key of a credential id: its SHA-256, hex."""
    return hashlib.sha256(raw_id).hexdigest()


@dataclass(frozen=True, slots=True)
class NewPasskey:
    """A verified registration: what the store keeps of the new credential."""

    credential_key: str
    credential_id: str
    public_key: str
    sign_count: int
    transports: list[str]
    backup_eligible: bool


@dataclass(frozen=True, slots=True)
class Assertion:
    """A parsed authentication response, before or after its signature check."""

    parsed: AuthenticationCredential
    challenge: bytes
    credential_key: str
    user_handle: str | None


def _refused(message: str, reason: Reason = Reason.PASSKEY) -> InvalidCredentialsError:
    return InvalidCredentialsError(message, reason=reason)


def _loads(credential: Credential) -> dict[str, Any]:
    """Return the credential JSON as a dict, refusing oversized or non-object input."""
    try:
        text = credential if isinstance(credential, str) else json.dumps(dict(credential))
    except (TypeError, ValueError):
        raise _refused("The passkey response is not JSON.") from None
    if len(text) > MAX_RESPONSE_CHARS:
        raise _refused("The passkey response is too large.")
    try:
        value = json.loads(text)
    except ValueError:
        raise _refused("The passkey response is not JSON.") from None
    if not isinstance(value, dict):
        raise _refused("The passkey response is not a JSON object.")
    return value


def _descriptors(credentials: Sequence[tuple[str, list[str]]]) -> list[Any]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(cid),
            transports=[AuthenticatorTransport(t) for t in transports if t in known] or None,
        )
        for cid, transports in credentials
    ]


class Ceremonies:
    """WebAuthn registration and authentication for one relying party.

    Args:
        rp_id: The relying party id (the site's domain).
        rp_name: The name authenticators show.
        origins: The origins responses may come from.
        timeout_seconds: How long the browser may take (a hint to it).
    """

    def __init__(
        self, *, rp_id: str, rp_name: str, origins: Sequence[str], timeout_seconds: int
    ) -> None:
        self.rp_id = rp_id
        self._rp_name = rp_name
        self._origins = list(origins)
        self._timeout_ms = timeout_seconds * 1000

    def registration_options(
        self,
        *,
        challenge: bytes,
        user_handle: str,
        user_name: str,
        exclude: Sequence[tuple[str, list[str]]],
    ) -> dict[str, Any]:
        """Options for `navigator.credentials.create()`: a discoverable credential."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self._rp_name,
            user_name=user_name,
            user_id=base64url_to_bytes(user_handle),
            challenge=challenge,
            timeout=self._timeout_ms,
            attestation=AttestationConveyancePreference.NONE,
            # Discoverable ("resident") so the passkey can sign in without a login name.
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=_descriptors(exclude),
        )
        return dict(options_to_json_dict(options))

    def authentication_options(
        self,
        *,
        challenge: bytes,
        allow: Sequence[tuple[str, list[str]]],
        user_verification: bool,
    ) -> dict[str, Any]:
        """Options for `navigator.credentials.get()`; empty *allow*: any discoverable one."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=self._timeout_ms,
            allow_credentials=_descriptors(allow),
            user_verification=(
                UserVerificationRequirement.REQUIRED
                if user_verification
                else UserVerificationRequirement.PREFERRED
            ),
        )
        return dict(options_to_json_dict(options))

    def parse_registration(self, credential: Credential) -> tuple[RegistrationCredential, bytes]:
        """Parse a registration response; return it and the challenge it answers."""
        try:
            parsed = parse_registration_credential_json(_loads(credential))
            challenge = parse_client_data_json(parsed.response.client_data_json).challenge
        except InvalidCredentialsError:
            raise
        except Exception:  # py_webauthn raises many types on malformed input
            raise _refused("The passkey response is malformed.") from None
        return parsed, challenge

    def verify_registration(self, parsed: RegistrationCredential, challenge: bytes) -> NewPasskey:
        """Check the response against *challenge*, the RP id and the origins."""
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self._origins,
            )
        except Exception as exc:  # attacker-chosen bytes: any failure is a refusal
            logger.info("passkey registration refused: %s", type(exc).__name__)
            raise _refused("The passkey registration did not verify.") from None
        transports = [t.value for t in parsed.response.transports or []]
        return NewPasskey(
            credential_key=credential_key(verified.credential_id),
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=transports,
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        )

    def parse_authentication(self, credential: Credential) -> Assertion:
        """Parse an authentication response, naming its challenge and credential."""
        try:
            parsed = parse_authentication_credential_json(_loads(credential))
            challenge = parse_client_data_json(parsed.response.client_data_json).challenge
        except InvalidCredentialsError:
            raise
        except Exception:  # py_webauthn raises many types on malformed input
            raise _refused("The passkey response is malformed.") from None
        handle = parsed.response.user_handle
        return Assertion(
            parsed=parsed,
            challenge=challenge,
            credential_key=credential_key(parsed.raw_id),
            user_handle=None if not handle else bytes_to_base64url(handle),
        )

    def verify_authentication(
        self, assertion: Assertion, *, public_key: str, user_verification: bool
    ) -> tuple[int, bool]:
        """Check the signature, RP id, origin and flags; return (sign count, user verified).

        The counter is compared by the caller (against the stored one, in the same
        conditional UPDATE that records the use), so a regression is told apart.
        """
        try:
            verified = verify_authentication_response(
                credential=assertion.parsed,
                expected_challenge=assertion.challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self._origins,
                credential_public_key=base64url_to_bytes(public_key),
                credential_current_sign_count=0,  # compared by the caller, see above
                require_user_verification=user_verification,
            )
        except Exception as exc:  # attacker-chosen bytes: any failure is a refusal
            logger.info("passkey assertion refused: %s", type(exc).__name__)
            raise _refused("The passkey did not verify.") from None
        return verified.new_sign_count, verified.user_verified
