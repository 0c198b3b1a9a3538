"""A tiny misbehaving provider on loopback (Starlette under uvicorn, in a thread).

Each tenant path is one provider: `/good` answers properly with keys and ID tokens the
test chooses; the others are slow, down, or answer garbage.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SLOW_SECONDS = 3.0


def new_key(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    """A fresh RSA key and its public JWK."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    return key, public


@dataclass
class FakeState:
    """What the fake provider serves; tests change it."""

    base: str = ""
    jwks: list[dict[str, Any]] = field(default_factory=list)
    jwks_hits: int = 0
    id_token: str | None = None
    token_answer: dict[str, Any] | None = None

    def issuer(self, tenant: str = "good") -> str:
        return f"{self.base}/{tenant}"


def _discovery(state: FakeState, tenant: str) -> dict[str, Any]:
    issuer = state.issuer(tenant)
    return {
        "issuer": issuer if tenant != "mismatch" else f"{state.base}/someone-else",
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/me",
        "jwks_uri": f"{issuer}/jwks",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    }


def build_app(state: FakeState) -> Starlette:
    async def discovery(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        if tenant == "down":
            return PlainTextResponse("upstream unavailable", status_code=503)
        if tenant == "garbage":
            return PlainTextResponse("<html>surprise</html>")
        if tenant == "list":
            return JSONResponse(["not", "an", "object"])
        return JSONResponse(_discovery(state, tenant))

    async def jwks(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant == "badkeys":
            return JSONResponse({"keys": "nope"})
        state.jwks_hits += 1
        return JSONResponse({"keys": state.jwks})

    async def token(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant == "tokenslow":
            await asyncio.sleep(SLOW_SECONDS)
        if tenant == "tokendown":
            return PlainTextResponse("bad gateway", status_code=502)
        if tenant == "tokengarbage":
            return PlainTextResponse("<html>not a token</html>")
        if tenant == "tokenrefused":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if state.token_answer is not None:
            return JSONResponse(state.token_answer)
        answer: dict[str, Any] = {"access_token": "fake-access", "token_type": "Bearer"}
        if state.id_token is not None:
            answer["id_token"] = state.id_token
        return JSONResponse(answer)

    async def userinfo(request: Request) -> Response:
        return JSONResponse({"sub": "someone-else", "email": "x@example.com"})

    return Starlette(
        routes=[
            Route("/{tenant}/.well-known/openid-configuration", discovery),
            Route("/{tenant}/jwks", jwks),
            Route("/{tenant}/token", token, methods=["POST"]),
            Route("/{tenant}/me", userinfo),
        ]
    )


def serve(state: FakeState, port: int) -> Iterator[FakeState]:
    """Run the fake provider on *port* until the generator is closed."""
    config = uvicorn.Config(
        build_app(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.05)
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
