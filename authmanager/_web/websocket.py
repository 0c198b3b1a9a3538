"""`auth.websocket_user`: authenticate a WebSocket, and close it when its session ends.

Credentials come from a subprotocol `bearer.<token>` in `Sec-WebSocket-Protocol`, or
else from the first message, `{"type": "auth", "token": "..."}`; never from the query
string (it lands in access logs). The dependency accepts the connection itself.
Close codes: 1008 (policy violation) for missing or bad credentials; 4001 when the
session is revoked or expires, or its user is deactivated, deleted or reported
inactive by the loader, while the socket is open (checked every
`websocket_recheck_seconds`); 1013 (try again later) when the token store cannot
be read during such a check.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

import anyio
from fastapi import WebSocket, WebSocketException, status
from starlette.requests import Request
from starlette.websockets import WebSocketDisconnect, WebSocketState

from authmanager._core.settings import AuthSettings
from authmanager._core.text import clean
from authmanager._core.tokens import TokenPayload
from authmanager._core.types import ClientInfo
from authmanager._services.binding import Binder, bound_key
from authmanager._services.verifier import Verifier
from authmanager._web.transport import Transport
from authmanager.exceptions import (
    AuthError,
    InvalidTokenError,
    Reason,
    TokenStoreUnavailableError,
)

__all__ = ["CLOSE_REVOKED", "CLOSE_UNAVAILABLE", "SUBPROTOCOL_PREFIX", "build_websocket_user"]

logger = logging.getLogger("authmanager.websocket")
UserT = TypeVar("UserT")

SUBPROTOCOL_PREFIX = "bearer."
#: Close code sent when the session ends while the socket is open.
CLOSE_REVOKED = 4001
#: Close code sent when a periodic check cannot reach the token store (RFC 6455 1013).
CLOSE_UNAVAILABLE = 1013
MAX_AUTH_MESSAGE = 16 * 1024
#: Where the dependency leaves the verified payload: `websocket.state.token_payload`.
STATE_PAYLOAD = "token_payload"


def _policy(reason: str) -> WebSocketException:
    return WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason)


def _offered(websocket: WebSocket) -> tuple[str | None, list[str]]:
    """Return the bearer token of the subprotocols (if any) and the other subprotocols."""
    token: str | None = None
    others: list[str] = []
    for value in websocket.headers.getlist("sec-websocket-protocol"):
        for item in value.split(","):
            proto = item.strip()
            if proto.startswith(SUBPROTOCOL_PREFIX):
                token = token or proto[len(SUBPROTOCOL_PREFIX) :]
            elif proto:
                others.append(proto)
    return token, others


async def _first_message(websocket: WebSocket, wait: float) -> tuple[str, str | None]:
    """Read `{"type": "auth", "token": ..., "device_id"?: ...}`; else close 1008."""
    try:
        with anyio.fail_after(wait):
            message = await websocket.receive()
    except TimeoutError:
        raise _policy("No auth message was sent in time.") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_AUTH_MESSAGE:
        raise _policy('The first message must be {"type": "auth", "token": "..."}.')
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or data.get("type") != "auth":
        raise _policy('The first message must be {"type": "auth", "token": "..."}.')
    token, device = data.get("token"), data.get("device_id")
    if not isinstance(token, str) or not token:
        raise _policy("The auth message lacks a token.")
    return token, clean(device, 128) if isinstance(device, str) else None


def build_websocket_user(
    *,
    settings: AuthSettings,
    verifier: Verifier[UserT],
    binder: Binder,
    transport: Transport,
) -> Callable[..., AsyncIterator[UserT]]:
    """Return the `websocket_user` dependency over the one verification path."""
    interval = settings.websocket_recheck_seconds
    timeout = settings.websocket_auth_timeout_seconds

    async def _authenticate(websocket: WebSocket) -> tuple[TokenPayload, UserT]:
        token, others = _offered(websocket)
        await websocket.accept(subprotocol=others[0] if others else None)
        # Transport only reads the connection's address and headers, which a
        # WebSocket has like a Request.
        client: ClientInfo = transport.client(cast(Request, websocket))
        if token is None:
            token, device = await _first_message(websocket, timeout)
            if device and client.device_id is None:
                client = ClientInfo(client.ip_address, client.user_agent, device)
        try:
            payload, user = await verifier.verify_with_user(token, client)
            if bound_key(payload) is not None:
                raise InvalidTokenError(
                    "DPoP-bound tokens cannot authenticate a WebSocket.", reason=Reason.DPOP
                )
            binder.check_client(payload, client)
        except TokenStoreUnavailableError:
            raise WebSocketException(code=CLOSE_UNAVAILABLE, reason="Try again later.") from None
        except AuthError as exc:
            raise _policy(exc.reason.value) from None
        return payload, user

    async def _watch(websocket: WebSocket, payload: TokenPayload) -> None:
        while True:
            await anyio.sleep(interval)
            code = None
            try:
                await verifier.recheck(payload)
            except TokenStoreUnavailableError:
                code = CLOSE_UNAVAILABLE
            except InvalidTokenError:
                code = CLOSE_REVOKED
            if code is not None:
                if websocket.application_state == WebSocketState.CONNECTED:
                    with contextlib.suppress(RuntimeError, OSError):
                        await websocket.close(code=code, reason="The session has ended.")
                return

    async def websocket_user(websocket: WebSocket) -> AsyncIterator[UserT]:
        """The user of a WebSocket; the connection is accepted here, closed on revocation.

        The verified payload is also at `websocket.state.token_payload`.
        """
        payload, user = await _authenticate(websocket)
        setattr(websocket.state, STATE_PAYLOAD, payload)
        watcher = asyncio.get_running_loop().create_task(_watch(websocket, payload))
        try:
            yield user
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    return websocket_user
