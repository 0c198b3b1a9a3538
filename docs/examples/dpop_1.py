"""DPoP (RFC 9449): a server that binds tokens to the client's key, and a Python client."""

import base64
import hashlib
import json
import os
import time
import uuid
from typing import Any

import httpx
import jwt
from app_models import Base, User
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:server]
auth = AuthManager(
    settings=AuthSettings(
        refresh_token_transport="body",  # a public (native) client keeps its refresh token
        dpop_required=False,  # True: refuse logins without a proof and unbound tokens
    ),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


@app.get("/api/orders")
async def orders(user: User = Depends(auth.current_user)) -> dict[str, Any]:
    return {"user": user.email, "orders": []}


# --8<-- [end:server]


# --8<-- [start:client]
class DPoPClient:
    """Sign one DPoP proof per request with a key that never leaves the client."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.key = ec.generate_private_key(ec.SECP256R1())  # keep it in a keystore
        self.jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))

    def proof(self, method: str, path: str, access_token: str | None = None) -> str:
        claims = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": self.base_url + path,  # no query string
            "iat": int(time.time()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        headers = {"typ": "dpop+jwt", "jwk": self.jwk}
        return jwt.encode(claims, self.key, algorithm="ES256", headers=headers)


async def client_flow(http: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    """Log in with a proof, call the API, refresh, call again: every step carries a proof."""
    dpop = DPoPClient(str(http.base_url).rstrip("/"))
    login = await http.post(
        "/auth/login",
        data={"username": email, "password": password},
        headers={"DPoP": dpop.proof("POST", "/auth/login")},
    )
    tokens = login.json()  # token_type == "DPoP"
    access = tokens["access_token"]
    await http.get(
        "/api/orders",
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": dpop.proof("GET", "/api/orders", access),
        },
    )
    refreshed = await http.post(
        "/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"DPoP": dpop.proof("POST", "/auth/refresh")},  # same key as at login
    )
    access = refreshed.json()["access_token"]
    answer = await http.get(
        "/api/orders",
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": dpop.proof("GET", "/api/orders", access),
        },
    )
    return {"token_type": tokens["token_type"], "status": answer.status_code, **answer.json()}


# --8<-- [end:client]


async def main() -> dict[str, Any]:
    """Run the client against the app in-process, on a fresh database."""
    async with engine.begin() as conn:
        await conn.run_sync(auth.metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    async with sessions() as db, db.begin():
        db.add(User(email="ada@example.com", hashed_password=auth.hash_password("s3cret-pass")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        return await client_flow(http, "ada@example.com", "s3cret-pass")


if __name__ == "__main__":
    import asyncio

    print(asyncio.run(main()))
