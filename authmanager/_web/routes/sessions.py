"""`/sessions`: list the user's sessions, end one, end all others."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from authmanager._core.tokens import TokenPayload
from authmanager._services.revocation import RevocationService
from authmanager._services.sessions import SessionService
from authmanager._web.dependencies import Dependencies
from authmanager._web.routing import errors
from authmanager._web.schemas import ErrorBody, RevokedBody, SessionBody

__all__ = ["add_session_routes"]


def add_session_routes(
    router: APIRouter,
    *,
    deps: Dependencies[Any],
    sessions: SessionService[Any],
    revocations: RevocationService,
) -> None:
    """Add the routes of the user's own sessions to *router*."""
    transport = deps.transport

    @router.get(
        "/sessions",
        name="authmanager:sessions",
        response_model=list[SessionBody],
        responses=errors(401, 503),
        summary="List the user's active sessions",
    )
    async def list_sessions(
        payload: TokenPayload = Depends(deps.live_token_data),
    ) -> list[SessionBody]:
        found = await sessions.list_sessions(payload.sub, None)
        return [
            SessionBody(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                user_agent=s.user_agent,
                ip_address=s.ip_address,
                current=s.id == payload.sid,
            )
            for s in found
        ]

    @router.delete(
        "/sessions/{session_id}",
        name="authmanager:revoke_session",
        status_code=204,
        responses={**errors(401, 422, 503), 404: {"model": ErrorBody}},
        summary="End one of the user's sessions",
    )
    async def revoke_session(
        request: Request,
        # Session ids are ours (`new_id`): anything else (a NUL, which PostgreSQL
        # refuses in a query, or bytes that are not ASCII) is malformed, not a 503.
        session_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
        payload: TokenPayload = Depends(deps.live_token_data),
    ) -> Response:
        client = transport.client(request)
        ended = await revocations.end_session(
            payload.sub,
            session_id,
            None,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )
        if not ended:
            return JSONResponse({"detail": "No such session."}, status_code=404)
        return Response(status_code=204)

    @router.post(
        "/sessions/revoke-others",
        name="authmanager:revoke_others",
        response_model=RevokedBody,
        responses=errors(401, 503),
        summary="End every session but the current one",
    )
    async def revoke_others(payload: TokenPayload = Depends(deps.live_token_data)) -> RevokedBody:
        count = await revocations.revoke_all(payload.sub, payload.jti, None)
        return RevokedBody(detail="Every other session has ended.", revoked=count)
