"""What the identity tests share: a user model with `is_verified`, its loader, a session
starter over the real manager, and a browser that signs in at the test provider's pages."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, SQLAlchemyUserLoader, TokenPair
from authmanager._core.types import ClientInfo
from authmanager.identities import ExternalIdentity

APP_BASE = "https://app.test"
CALLBACK_PREFIX = f"{APP_BASE}/auth/oidc/"


class IdBase(DeclarativeBase):
    pass


class Member(IdBase):
    """A user that may have no password (signed up with a provider) and a verified flag."""

    __tablename__ = "test_identity_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class Members(SQLAlchemyUserLoader[Member]):
    """The application's policy: an identity signs in as the account with its email
    (the library then demands both verifications), else a new account is created;
    identities without an email are refused."""

    def __init__(self) -> None:
        super().__init__(Member, login_field="email")
        self.seen: list[ExternalIdentity] = []

    async def get_user_for_identity(
        self, session: AsyncSession, identity: ExternalIdentity
    ) -> Member | None:
        self.seen.append(identity)
        if identity.email is None:
            return None
        existing = await self.get_user_by_login(session, identity.email)
        if existing is not None:
            return existing
        member = Member(
            email=identity.email, hashed_password=None, is_verified=identity.email_verified
        )
        session.add(member)
        await session.flush()
        return member


class ManagerSessions:
    """The session-start protocol over the real manager (what the lead will wire)."""

    def __init__(self, manager: AuthManager[Any]) -> None:
        self.manager = manager

    async def start(
        self,
        user: Member,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        return await self.manager.create_token_pair(
            {"sub": str(user.id)}, client=client, fresh=fresh, amr=amr, session=session
        )


async def members(session: AsyncSession) -> list[Member]:
    return list((await session.execute(select(Member).order_by(Member.id))).scalars())


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input([^>]*)>")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def _form(page: str) -> tuple[str, dict[str, str]]:
    match = _FORM.search(page)
    assert match, f"no form on the provider's page: {page[:300]}"
    fields: dict[str, str] = {}
    for raw in _INPUT.findall(match.group(2)):
        attrs = dict(_ATTR.findall(raw))
        if "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
    return html.unescape(match.group(1)), fields


class Callback:
    """The redirect the provider sent the browser back with."""

    def __init__(self, url: str) -> None:
        self.url = url
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.code = query.get("code")
        self.state = query.get("state")
        self.iss = query.get("iss")
        self.error = query.get("error")


async def sign_in_at_provider(
    authorization_url: str, *, login: str = "alice", stop_prefix: str = CALLBACK_PREFIX
) -> Callback:
    """Drive the provider's own login and consent pages as a browser would (its forms).

    Returns the callback the provider redirects to; no request goes to the app.
    """
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        url = authorization_url
        for _ in range(20):
            if url.startswith(stop_prefix):
                return Callback(url)
            response = await browser.get(url)
            while response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                if url.startswith(stop_prefix):
                    return Callback(url)
                response = await browser.get(url)
            assert response.status_code == 200, response.text[:500]
            action, fields = _form(response.text)
            if "login" in fields:
                fields.update(login=login, password="any password")
            response = await browser.post(urljoin(url, action), data=fields)
            assert response.status_code in (302, 303), response.text[:500]
            url = urljoin(url, response.headers["location"])
    raise AssertionError("the provider never redirected back")


async def native_id_token(
    issuer: str,
    *,
    nonce: str,
    login: str = "alice",
    client_id: str = "native",
    client_secret: str | None = None,
    redirect_uri: str = "com.example.app:/oauth2redirect",
) -> str:
    """Get an ID token with a chosen nonce as a platform sign-in SDK does: the code flow of
    the public native client with PKCE, its login pages driven, the code redeemed."""
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "openid email profile",
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(16),
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = str(httpx.URL(f"{issuer}/auth", params=params))
    callback = await sign_in_at_provider(url, login=login, stop_prefix=redirect_uri)
    assert callback.code, callback.url
    form = {
        "grant_type": "authorization_code",
        "code": callback.code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    auth = None
    if client_secret is None:
        form["client_id"] = client_id
    else:
        auth = (client_id, client_secret)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{issuer}/token", data=form, auth=auth)
    assert response.status_code == 200, response.text
    token = response.json()["id_token"]
    assert isinstance(token, str)
    return token
