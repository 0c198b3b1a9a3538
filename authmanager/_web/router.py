"""The router of one manager: one `APIRouter` to which each route group adds its routes."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response

from authmanager._web.routing import bounded_route
from authmanager._web.schemas import JWKSBody

__all__ = ["add_jwks_route", "new_router"]


def new_router(*, max_body_bytes: int) -> APIRouter:
    """An empty router whose routes render the library's errors and bound bodies (`auth`)."""
    return APIRouter(route_class=bounded_route(max_body_bytes), tags=["auth"])


def add_jwks_route(router: APIRouter, jwks: Callable[[], dict[str, list[dict[str, str]]]]) -> None:
    """Add `/.well-known/jwks.json` (asymmetric algorithms) to *router*."""

    @router.get(
        "/.well-known/jwks.json",
        name="authmanager:jwks",
        response_model=JWKSBody,
        summary="Public keys that verify this service's tokens (RFC 7517)",
    )
    async def get_jwks(response: Response) -> dict[str, Any]:
        response.headers["Cache-Control"] = "public, max-age=300"
        return jwks()
