"""Bound tokens: device id, User-Agent and IP-network checks, and DPoP key binding.

A login's binding (device id `did`, DPoP key thumbprint `cnf.jkt`, and, when their
policies are on, a User-Agent digest `uah` and the client's network `ipn`) is kept
with the session's claims, so every token the session mints carries it. Requests and
refreshes are then checked against those claims, which are signed: no extra query.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import replace
from typing import Any

from starlette.requests import HTTPConnection

from authmanager._core.dpop import DPOP_HEADER, DPoPVerifier
from authmanager._core.events import HookDispatcher
from authmanager._core.settings import AuthSettings
from authmanager._core.text import clean, same
from authmanager._core.tokens import TokenPayload
from authmanager._core.types import ClientInfo
from authmanager._services.rejections import RejectionReporter
from authmanager.exceptions import InvalidTokenError, Reason
from authmanager.hooks import EventName

__all__ = ["BINDING_CLAIMS", "Binder", "bound_key"]

#: Claims that bind a token; set by authmanager only.
BINDING_CLAIMS = frozenset({"did", "cnf", "uah", "ipn"})
_IPV4_PREFIX = 24
_IPV6_PREFIX = 64


def ua_digest(user_agent: str) -> str:
    """Return a short digest of a User-Agent (the token never carries the header itself)."""
    digest = hashlib.sha256(user_agent.encode("utf-8", "replace")).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def ip_network(address: str | None) -> str | None:
    """Return the /24 (IPv4) or /64 (IPv6) network of *address*, or None if it is not an IP."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = _IPV4_PREFIX if ip.version == 4 else _IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def bound_key(payload: TokenPayload) -> str | None:
    """Return the DPoP key thumbprint (`cnf.jkt`) a token is bound to, or None."""
    cnf = payload.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


def _scheme(conn: HTTPConnection) -> str:
    return conn.headers.get("authorization", "").strip().partition(" ")[0].lower()


def _dpop_error(message: str) -> InvalidTokenError:
    return InvalidTokenError(message, reason=Reason.DPOP)


class Binder:
    """The binding checks of one manager.

    Args:
        settings: The policies (`user_agent_policy`, `ip_network_policy`, `dpop_required`).
        dpop: Verifies DPoP proofs and remembers their `jti`.
        events: Reports `device.mismatch`.
        reporter: Reports refused bindings as `token.rejected`.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        dpop: DPoPVerifier,
        events: HookDispatcher,
        reporter: RejectionReporter,
    ) -> None:
        self.dpop = dpop
        self._events = events
        self._reporter = reporter
        self._ua_policy = settings.user_agent_policy
        self._ip_policy = settings.ip_network_policy
        self._required = settings.dpop_required

    # --- at login --------------------------------------------------------------------
    def session_binding(self, client: ClientInfo) -> dict[str, Any]:
        """Return the binding claims of a new session for *client*."""
        binding: dict[str, Any] = {}
        if client.device_id:
            binding["did"] = client.device_id
        if client.dpop_jkt:
            binding["cnf"] = {"jkt": client.dpop_jkt}
        if self._ua_policy != "allow" and client.user_agent:
            binding["uah"] = ua_digest(client.user_agent)
        network = ip_network(client.ip_address)
        if self._ip_policy != "allow" and network is not None:
            binding["ipn"] = network
        return binding

    async def login_client(
        self, conn: HTTPConnection, client: ClientInfo, form_device_id: str | None
    ) -> ClientInfo:
        """Add the login form's device id and the DPoP proof's key to *client*.

        Raises:
            InvalidTokenError: the header and form device ids differ (`device_mismatch`),
                or the DPoP proof is bad or required and missing (`dpop`).
        """
        device = client.device_id
        form_device = clean(form_device_id, 128)
        if form_device:
            if device and device != form_device:
                raise InvalidTokenError(
                    "The X-Device-Id header and the device_id field differ.",
                    reason=Reason.DEVICE_MISMATCH,
                )
            device = form_device
        jkt = await self.proof_key(conn)
        if jkt is None and self._required:
            raise _dpop_error("This server requires DPoP: send a DPoP proof.")
        return replace(client, device_id=device, dpop_jkt=jkt)

    async def with_proof(self, conn: HTTPConnection, client: ClientInfo) -> ClientInfo:
        """Return *client* with the key of the request's DPoP proof, if one was sent.

        Raises:
            InvalidTokenError: reason `dpop`; the proof is bad.
        """
        jkt = await self.proof_key(conn)
        return client if jkt is None else replace(client, dpop_jkt=jkt)

    async def proof_key(self, conn: HTTPConnection, access_token: str | None = None) -> str | None:
        """Verify the request's DPoP proof, if any; return its key's thumbprint.

        Raises:
            InvalidTokenError: reason `dpop`; two proofs, or a bad one.
        """
        values = conn.headers.getlist(DPOP_HEADER)
        if not values:
            return None
        if len(values) > 1:
            raise _dpop_error("Two DPoP headers were sent.")
        method = conn.scope.get("method", "GET")
        return await self.dpop.verify(
            values[0].strip(), method=method, url=str(conn.url), access_token=access_token
        )

    # --- on requests and refreshes -----------------------------------------------------
    async def check_request(
        self, conn: HTTPConnection, payload: TokenPayload, token: str, client: ClientInfo
    ) -> None:
        """Check a verified access token against the request that carried it.

        Raises:
            InvalidTokenError: reason `dpop` or `device_mismatch`.
        """
        try:
            await self._check_dpop_request(conn, payload, token)
        except InvalidTokenError as exc:
            self._reporter.report(exc, token, client)
            raise
        self.check_client(payload, client)

    async def _check_dpop_request(
        self, conn: HTTPConnection, payload: TokenPayload, token: str
    ) -> None:
        jkt = bound_key(payload)
        scheme = _scheme(conn)
        if jkt is None:
            if scheme == "dpop":
                raise _dpop_error("The token is not DPoP-bound; send it as a Bearer token.")
            if self._required:
                raise _dpop_error("This server requires DPoP-bound tokens.")
            return
        if scheme != "dpop":
            raise _dpop_error("The token is DPoP-bound; send it as 'Authorization: DPoP'.")
        proof_jkt = await self.proof_key(conn, access_token=token)
        if proof_jkt is None:
            raise _dpop_error("The token is DPoP-bound; a DPoP proof is required.")
        if not same(proof_jkt, jkt):
            raise _dpop_error("The DPoP proof is signed by another key.")

    def check_refresh(self, payload: TokenPayload, token: str, client: ClientInfo) -> None:
        """Check a refresh token's binding against the refreshing client.

        Raises:
            InvalidTokenError: reason `dpop` or `device_mismatch`.
        """
        jkt = bound_key(payload)
        failure: InvalidTokenError | None = None
        if jkt is not None and (client.dpop_jkt is None or not same(client.dpop_jkt, jkt)):
            failure = _dpop_error("The refresh token is DPoP-bound; send a proof with its key.")
        elif jkt is None and self._required:
            failure = _dpop_error("This server requires DPoP-bound tokens.")
        if failure is not None:
            self._reporter.report(failure, token, client)
            raise failure
        self.check_client(payload, client)

    def check_client(self, payload: TokenPayload, client: ClientInfo) -> None:
        """Compare the device id, User-Agent and network with the token's binding.

        Raises:
            InvalidTokenError: reason `device_mismatch`.
        """
        did = payload.get("did")
        if isinstance(did, str) and (client.device_id is None or not same(client.device_id, did)):
            self._mismatch(payload, client, "device_id", "refuse")
        uah = payload.get("uah")
        seen = ua_digest(client.user_agent) if client.user_agent else ""
        if isinstance(uah, str) and self._ua_policy != "allow" and seen != uah:
            self._mismatch(payload, client, "user_agent", self._ua_policy)
        ipn = payload.get("ipn")
        if (
            isinstance(ipn, str)
            and self._ip_policy != "allow"
            and ip_network(client.ip_address) != ipn
        ):
            self._mismatch(payload, client, "ip_network", self._ip_policy)

    def _mismatch(self, payload: TokenPayload, client: ClientInfo, check: str, policy: str) -> None:
        self._events.emit(
            EventName.DEVICE_MISMATCH,
            user_id=payload.sub,
            session_id=payload.sid,
            token_id=payload.jti,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            reason=Reason.DEVICE_MISMATCH,
            extra={"check": check, "policy": policy},
        )
        if policy == "refuse":
            what = {"device_id": "device", "user_agent": "User-Agent", "ip_network": "network"}
            raise InvalidTokenError(
                f"The token is bound to another {what[check]}.", reason=Reason.DEVICE_MISMATCH
            )
