"""Where the router is mounted: one prefix, checked at start-up, and `install(app)`.

The prefix lives in the settings (`route_prefix`), because the manager needs it before
any application exists: Swagger's `tokenUrl` and the refresh cookie's `Path` are built
from it. `app.include_router(auth.router, prefix=...)` can still name another one, so
the router's lifespan (which FastAPI merges into the application's) compares the path
each route really got with the settings, and refuses to start on a mismatch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import fastapi.routing
from fastapi import APIRouter, FastAPI
from starlette.routing import Mount

from authmanager._web.http import install_exception_handlers
from authmanager._web.schemas import ErrorBody

__all__ = ["MountMismatchError", "RouterLifespan", "endpoints", "install_app"]

logger = logging.getLogger("authmanager.http")

Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]
#: Codes a route protected by the manager's bearer scheme may answer with.
PROTECTED_ERRORS = {
    401: "Missing, malformed, expired or revoked token (`WWW-Authenticate: Bearer`).",
    403: "The token lacks a required scope, or a validator refused it.",
    503: "The token store cannot be reached; nothing was let through.",
}


class MountMismatchError(RuntimeError):
    """`auth.router` is mounted under another prefix than `route_prefix` says."""


def _children(routes: Iterable[Any]) -> Iterable[Any]:
    # FastAPI >= 0.160 keeps included routers nested; its public iterator flattens them
    # with each route's effective path. Older releases copy the routes into the parent.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return flatten(list(routes)) if flatten is not None else routes


def endpoints(routes: Iterable[Any], base: str = "") -> Iterator[tuple[str, Any]]:
    """Yield `(full path, endpoint)` of every route of *routes*, sub-applications included."""
    for route in _children(routes):
        path: str = getattr(route, "path", "") or ""
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None:
            yield base + path, endpoint
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            yield from endpoints(original.routes, base + path)


class RouterLifespan:
    """The lifespan of `auth.router`: check the mount at start-up, drain events at shutdown.

    Args:
        router: The manager's router (its routes are read at start-up).
        prefix: The settings' `route_prefix`.
        drain: Waits for the hook events still being delivered.
    """

    def __init__(
        self, *, router: APIRouter, prefix: str, drain: Callable[[], Awaitable[None]]
    ) -> None:
        self._router = router
        self._prefix = prefix
        self._drain = drain

    def check(self, app: Any) -> None:
        """Raise `MountMismatchError` unless every route of the router is under the prefix.

        Raises:
            MountMismatchError: a route was mounted at another path.
        """
        own = {endpoint: path for path, endpoint in endpoints(self._router.routes)}
        for path, endpoint in endpoints(getattr(app, "routes", ())):
            if endpoint in own and path != self._prefix + own[endpoint]:
                mounted = path[: len(path) - len(own[endpoint])]
                raise MountMismatchError(
                    f"auth.router is mounted at '{mounted}' but route_prefix is "
                    f"'{self._prefix}': Swagger's Authorize would post to {self._prefix}/login "
                    f"and the refresh cookie (Path={self._prefix or '/'}) would not reach "
                    f"{mounted}/refresh. Set AUTH_ROUTE_PREFIX='{mounted}' (or "
                    f"AuthSettings(route_prefix='{mounted}')) and mount the router with "
                    "auth.install(app)."
                )

    def __call__(self, app: Any) -> AbstractAsyncContextManager[None]:
        """The lifespan context FastAPI enters with the application."""
        return self._lifespan(app)

    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.check(app)
        try:
            yield
        finally:
            await self._drain()


def install_app(
    app: FastAPI,
    *,
    router: APIRouter,
    prefix: str,
    scheme_name: str,
    create_tables: Callable[[], Awaitable[None]] | None,
) -> None:
    """Mount *router* at *prefix*, install the error handlers and the start-up work.

    Args:
        app: The application.
        router: The manager's router.
        prefix: The settings' `route_prefix`.
        scheme_name: The OpenAPI name of the manager's bearer scheme.
        create_tables: Run at start-up when given (creates missing tables).
    """
    if create_tables is not None:
        tables = create_tables

        @asynccontextmanager
        async def lifespan(_app: Any) -> AsyncIterator[None]:
            await tables()
            yield

        # An empty router carries the lifespan: FastAPI merges it into the app's.
        app.include_router(APIRouter(lifespan=lifespan))
    app.include_router(router, prefix=prefix)
    install_exception_handlers(app)
    own = {prefix + path for path, _ in endpoints(router.routes)}
    _declare_errors(app, scheme_name, skip=own)


def _declare_errors(app: FastAPI, scheme_name: str, *, skip: set[str]) -> None:
    """Add 401, 403 and 503 to the OpenAPI answers of every route the scheme protects.

    FastAPI lists a route's `responses` from its decorator only; a route protected by
    `Depends(auth.current_user)` would otherwise document none of the errors it gives.
    429 is not among them: only the sign-in routes are rate limited.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        has_model = ErrorBody.__name__ in schema.get("components", {}).get("schemas", {})
        for path, item in schema.get("paths", {}).items():
            if path in skip:  # the router's own routes declare exactly what they answer
                continue
            for operation in item.values():
                if not isinstance(operation, dict) or not any(
                    scheme_name in requirement for requirement in operation.get("security", [])
                ):
                    continue
                responses = operation.setdefault("responses", {})
                for code, description in PROTECTED_ERRORS.items():
                    answer: dict[str, Any] = {"description": description}
                    if has_model:
                        ref = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
                        answer["content"] = {"application/json": {"schema": ref}}
                    responses.setdefault(str(code), answer)
        return schema

    app.openapi = openapi  # type: ignore[method-assign] # FastAPI's documented override
