"""`build_router`: the router of one manager, composed of one sub-router per group."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response

from authmanager._web.routing import AuthRoute
from authmanager._web.schemas import JWKSBody

__all__ = ["build_router", "jwks_routes"]


def jwks_routes(jwks: Callable[[], dict[str, list[dict[str, str]]]]) -> APIRouter:
    """`/.well-known/jwks.json`, for asymmetric algorithms."""
    router = APIRouter(route_class=AuthRoute)

    @router.get(
        "/.well-known/jwks.json",
        name="authmanager:jwks",
        response_model=JWKSBody,
        summary="Public keys that verify this service's tokens (RFC 7517)",
    )
    async def get_jwks(response: Response) -> dict[str, Any]:
        response.headers["Cache-Control"] = "public, max-age=300"
        return jwks()

    return router


def build_router(*parts: APIRouter) -> APIRouter:
    """Return one router holding the routes of every part (tagged `auth`)."""
    router = APIRouter(route_class=AuthRoute, tags=["auth"])
    for part in parts:
        router.include_router(part)
    return router
