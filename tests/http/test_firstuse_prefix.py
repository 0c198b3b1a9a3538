"""One prefix: `route_prefix` is where the router lives, and a second one cannot go unnoticed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI

from authmanager import AuthManager
from authmanager._web.mounting import MountMismatchError
from tests.app import User
from tests.conftest import PASSWORD, client_for
from tests.support.http import bearer, set_cookies

MakeManager = Callable[..., AuthManager[User]]
PREFIX = "/api/v1/auth"


def _with_me(app: FastAPI, auth: AuthManager[User]) -> FastAPI:
    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, int]:
        return {"id": user.id}

    return app


async def test_include_router_at_another_prefix_refuses_to_start(
    manager: AuthManager[User],
) -> None:
    """`include_router(prefix="/api/v1/auth")` with the default `/auth` fails at start-up."""
    app = FastAPI()
    app.include_router(manager.router, prefix=PREFIX)
    with pytest.raises(MountMismatchError) as refused:
        async with LifespanManager(app):
            pass  # pragma: no cover - start-up must fail
    message = str(refused.value)
    assert f"mounted at '{PREFIX}'" in message
    assert "route_prefix is '/auth'" in message
    assert f"AUTH_ROUTE_PREFIX='{PREFIX}'" in message  # names the fix


async def test_include_router_without_prefix_refuses_to_start(manager: AuthManager[User]) -> None:
    """Forgetting the prefix (routes at `/login`) is a mismatch with `/auth` too."""
    app = FastAPI()
    app.include_router(manager.router)
    with pytest.raises(MountMismatchError, match="mounted at ''"):
        async with LifespanManager(app):
            pass  # pragma: no cover


async def test_matching_include_router_starts_and_serves(
    make_manager: MakeManager, user: User
) -> None:
    """The contract's `include_router(auth.router, prefix=...)` still works when they agree."""
    auth = make_manager(route_prefix=PREFIX)
    app = _with_me(FastAPI(), auth)
    app.include_router(auth.router, prefix=PREFIX)
    async with LifespanManager(app), client_for(app) as client:
        login = await client.post(
            f"{PREFIX}/login", data={"username": user.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text


async def test_nested_routers_adding_up_to_the_prefix_start(
    make_manager: MakeManager, user: User
) -> None:
    """`/api/v1` + `/auth` through an intermediate router is `/api/v1/auth`: accepted."""
    auth = make_manager(route_prefix=PREFIX)
    api = APIRouter(prefix="/api/v1")
    api.include_router(auth.router, prefix="/auth")
    app = FastAPI()
    app.include_router(api)
    async with LifespanManager(app), client_for(app) as client:
        login = await client.post(
            f"{PREFIX}/login", data={"username": user.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text


async def test_two_managers_each_at_its_own_prefix_start(make_manager: MakeManager) -> None:
    """Each manager checks its own routes: two audiences side by side start."""
    first, second = make_manager(), make_manager(route_prefix="/partners/auth")
    app = FastAPI()
    first.install(app)
    second.install(app)
    async with LifespanManager(app), client_for(app) as client:
        assert (await client.get("/auth/health")).status_code == 200
        assert (await client.get("/partners/auth/health")).status_code == 200


async def test_install_mounts_at_route_prefix_and_the_cookie_reaches_refresh(
    make_manager: MakeManager, user: User
) -> None:
    """With `route_prefix` set once, tokenUrl, cookie path, refresh and logout all agree."""
    auth = make_manager(route_prefix=PREFIX)
    app = FastAPI()
    auth.install(app)
    _with_me(app, auth)
    async with LifespanManager(app), client_for(app) as client:
        scheme = app.openapi()["components"]["securitySchemes"]["BearerScheme"]
        login = await client.post(
            f"{PREFIX}/login", data={"username": user.email, "password": PASSWORD}
        )
        cookie = set_cookies(login)["refresh_token"]
        refreshed = await client.post(
            f"{PREFIX}/refresh", headers={"X-CSRF-Token": client.cookies["csrf_token"]}
        )
        access = refreshed.json()["access_token"]
        me = await client.get("/me", headers=bearer(access))
        out = await client.post(f"{PREFIX}/logout", headers=bearer(access))
        after = await client.get("/me", headers=bearer(access))
    assert scheme["flows"]["password"]["tokenUrl"] == f"{PREFIX}/login"
    assert scheme["flows"]["password"]["refreshUrl"] == f"{PREFIX}/refresh"
    assert login.status_code == 200, login.text
    assert cookie.attrs["path"] == PREFIX
    assert refreshed.status_code == 200, refreshed.text
    assert me.json() == {"id": user.id}
    assert out.status_code == 200
    assert after.status_code == 401
