"""`/api-keys`: list the user's API keys, create one (fresh login), revoke one."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from authmanager._core.tokens import TokenPayload
from authmanager._services.liveness import user_id_of
from authmanager._web.dependencies import Dependencies
from authmanager._web.http import to_http
from authmanager._web.routing import NO_STORE, errors, malformed
from authmanager._web.schemas import ApiKeyBody, ApiKeyRequest, ErrorBody, NewApiKeyBody
from authmanager.apikeys import ApiKeyService, TooManyApiKeysError
from authmanager.apikeys.rules import check_scopes
from authmanager.exceptions import AuthError, Reason

__all__ = ["add_api_key_routes"]


def add_api_key_routes(router: APIRouter, *, deps: Dependencies[Any], keys: ApiKeyService) -> None:
    """Add the routes of the user's own API keys to *router*.

    Every route needs an access token (an API key cannot manage keys); creating one
    needs a fresh login, and a key may hold only scopes the calling token holds.
    """
    transport = deps.transport

    @router.get(
        "/api-keys",
        name="authmanager:api_keys",
        response_model=list[ApiKeyBody],
        responses=errors(401, 503),
        summary="List the user's API keys (never the keys themselves)",
    )
    async def list_api_keys(payload: TokenPayload = Depends(deps.token_data)) -> list[ApiKeyBody]:
        found = await keys.list_api_keys(payload.sub)
        return [
            ApiKeyBody(
                id=k.id,
                name=k.name,
                prefix=k.prefix,
                scopes=list(k.scopes),
                created_at=k.created_at,
                expires_at=k.expires_at,
                last_used_at=k.last_used_at,
            )
            for k in found
        ]

    @router.post(
        "/api-keys",
        name="authmanager:create_api_key",
        status_code=201,
        response_model=NewApiKeyBody,
        responses={**errors(401, 403, 422, 503), 409: {"model": ErrorBody}},
        summary="Create an API key (fresh login); the key is shown this once",
    )
    async def create_api_key(
        request: Request,
        response: Response,
        body: ApiKeyRequest,
        user: Any = Depends(deps.fresh_user),
        payload: TokenPayload = Depends(deps.token_data),
    ) -> Any:
        try:
            scopes = check_scopes(body.scopes)
        except ValueError as exc:
            return malformed(str(exc))
        # A key must not outrank the login that made it (no scope escalation).
        if not set(scopes).issubset(payload.scopes):
            raise to_http(
                AuthError(
                    "An API key may hold only scopes your token holds.",
                    reason=Reason.INSUFFICIENT_SCOPE,
                )
            )
        days = body.expires_in_days
        try:
            new = await keys.create_api_key(
                user_id_of(user),
                name=body.name,
                scopes=scopes,
                expires_in=None if days is None else timedelta(days=days),
                client=transport.client(request),
            )
        except TooManyApiKeysError as exc:
            return JSONResponse(
                {"detail": str(exc), "error": "invalid_request", "reason": "too_many_api_keys"},
                status_code=409,
                headers=NO_STORE,
            )
        except ValueError as exc:  # the rules' messages name the rule, never a secret
            return malformed(str(exc))
        response.headers.update(NO_STORE)
        return NewApiKeyBody(
            id=new.id,
            key=new.key,
            name=new.name,
            prefix=new.prefix,
            scopes=list(new.scopes),
            created_at=new.created_at,
            expires_at=new.expires_at,
        )

    @router.delete(
        "/api-keys/{key_id}",
        name="authmanager:revoke_api_key",
        status_code=204,
        responses={**errors(401, 503), 404: {"model": ErrorBody}},
        summary="Revoke one of the user's API keys",
    )
    async def revoke_api_key(
        request: Request,
        key_id: Annotated[str, Field(max_length=64)],
        payload: TokenPayload = Depends(deps.token_data),
    ) -> Response:
        revoked = await keys.revoke_api_key(payload.sub, key_id, client=transport.client(request))
        if not revoked:
            return JSONResponse({"detail": "No such API key."}, status_code=404)
        return Response(status_code=204)
