"""The two-step sign-in from a native app or a script: a password, then a code."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx


# --8<-- [start:client]
async def sign_in(
    client: httpx.AsyncClient,
    username: str,
    password: str,
    ask_for_code: Callable[[list[str]], Awaitable[dict[str, str]]],
) -> dict[str, Any]:
    """Log in; when the account has a second factor, ask the user for it and answer.

    *ask_for_code* gets the factors the user can use (`totp`, `passkey`,
    `recovery_code`) and returns one answer: `{"code": "123456"}` or
    `{"recovery_code": "..."}`. Returns the token response of whichever step ends it.
    """
    response = await client.post("/auth/login", data={"username": username, "password": password})
    if response.status_code == 403 and response.json().get("error") == "mfa_required":
        step = response.json()
        answer = await ask_for_code(step["factors"])
        response = await client.post(
            "/auth/mfa/verify", json={"mfa_token": step["mfa_token"], **answer}
        )
    response.raise_for_status()  # 401 invalid_grant: a wrong password or code
    tokens: dict[str, Any] = response.json()
    return tokens


# --8<-- [end:client]
