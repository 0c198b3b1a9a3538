"""Static checks of the public types (run by mypy in CI, not collected by pytest)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, assert_type

from fastapi import Depends, FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    ApiKeyInfo,
    ApiKeyPrincipal,
    AuthManager,
    AuthSettings,
    NewApiKey,
    SQLAlchemyUserLoader,
    TokenPair,
    TokenPayload,
    metadata,
)
from tests.app import User

engine = create_async_engine("sqlite+aiosqlite://")
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=async_sessionmaker(engine, expire_on_commit=False),
    user_loader=SQLAlchemyUserLoader(User),
)
assert_type(auth, AuthManager[User])
assert_type(auth.current_user, Callable[..., Awaitable[User]])
assert_type(auth.optional_user, Callable[..., Awaitable[User | None]])
assert_type(auth.fresh_user, Callable[..., Awaitable[User]])
assert_type(auth.token_data, Callable[..., Awaitable[TokenPayload]])
assert_type(auth.require_scopes("read"), Callable[..., Awaitable[TokenPayload | ApiKeyPrincipal]])
assert_type(auth.api_key_user, Callable[..., Awaitable[User]])
assert_type(auth.current_principal, Callable[..., Awaitable[User]])
assert_type(auth.websocket_user, Callable[..., AsyncIterator[User]])
assert_type(auth.metadata, MetaData)
assert_type(metadata, MetaData)

app = FastAPI()
CurrentUser = Annotated[User, Depends(auth.current_user)]


@app.get("/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    assert_type(user, User)
    return {"id": user.id}


async def flows() -> None:
    user = await auth.authenticate("alice@example.com", "pw")
    assert_type(user, User)
    pair = await auth.create_token_pair({"sub": str(user.id)})
    assert_type(pair, TokenPair)
    assert_type(pair.access_token, str)
    assert_type(pair["expires_in"], str | int)
    payload = await auth.verify_token(pair.access_token)
    assert_type(payload, TokenPayload)
    assert_type(payload.scopes, list[str])
    assert_type(payload.amr, list[str])
    assert_type(await auth.refresh(pair.refresh_token), TokenPair)
    new = await auth.create_api_key(str(user.id), name="CI", scopes=["read"])
    assert_type(new, NewApiKey)
    assert_type(new.key, str)
    assert_type(await auth.list_api_keys(str(user.id)), list[ApiKeyInfo])
    principal = await auth.verify_api_key(new.key)
    assert_type(principal.sub, str)
    assert_type(principal.scopes, tuple[str, ...])
    assert_type(await auth.impersonate("1", str(user.id), reason="support"), str)
    assert_type(await auth.deactivate_user(str(user.id)), int)


async def account_flows() -> None:
    from datetime import timedelta

    from authmanager.accounts import ActionToken

    registered = await auth.register("new@example.com", "a long passphrase")
    assert_type(registered, User | None)
    assert_type(await auth.verify_email("token"), User)
    assert_type(await auth.confirm_email_change("token"), User)
    assert_type(await auth.login_with_link("token"), TokenPair)
    assert_type(await auth.reset_password("token", "a new passphrase"), int)
    token = await auth.create_action_token("1", "invite", expires_in=timedelta(hours=1))
    assert_type(token, str)
    assert_type(await auth.consume_action_token(token, "invite"), ActionToken)
