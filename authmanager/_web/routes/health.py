"""`GET /health`: whether the token store answers (for load balancers and orchestrators)."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from authmanager._services.health import HealthService
from authmanager._web.routing import NO_STORE
from authmanager._web.schemas import HealthBody
from authmanager.exceptions import TokenStoreUnavailableError

__all__ = ["add_health_route"]


def add_health_route(router: APIRouter, *, health: HealthService) -> None:
    """Add `GET /health` to *router*: 200 when the token store answers, else 503."""

    @router.get(
        "/health",
        name="authmanager:health",
        response_model=HealthBody,
        responses={503: {"model": HealthBody, "description": "The token store is down."}},
        summary="Whether the token store answers",
    )
    async def check_health() -> Any:
        try:
            await health.check()
        except TokenStoreUnavailableError as exc:
            headers = {**NO_STORE, "Retry-After": "5"}
            body = {"status": "unavailable", "detail": exc.message}
            return JSONResponse(body, status_code=503, headers=headers)
        return JSONResponse({"status": "ok"}, headers=NO_STORE)
