"""`AuthManager` methods: issuing, verifying and refreshing tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair, TokenPayload, TokenType
from authmanager._core.types import ClientInfo
from authmanager._services.rotation import RotationService
from authmanager._services.sessions import SessionService
from authmanager._services.verifier import Verifier

__all__ = ["TokenMethods"]

UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


class TokenMethods(Generic[UserT]):
    """Tokens: issue, verify, refresh."""

    _sessions: SessionService[UserT]
    _verifier: Verifier[UserT]
    _rotation: RotationService

    async def create_access_token(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        expires_in: timedelta | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Issue one tracked access token, in a session of its own (no refresh token).

        For service-to-service or test tokens; `revoke_token` ends it at once.

        Raises:
            ValueError: `data["sub"]` is missing, or `data` holds a reserved claim.
            TokenStoreUnavailableError: the token could not be recorded.
        """
        return await self._sessions.create_access_token(
            data, audience=audience, issuer=issuer, expires_in=expires_in, session=session
        )

    async def create_token_pair(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        client: ClientInfo | None = None,
        fresh: bool = False,
        amr: Sequence[str] = (),
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Start a login session: issue an access and a refresh token, in one transaction.

        Custom claims in *data* are kept for the session's life: tokens minted by
        `refresh` carry them too. Pass `fresh=True` right after a password check so
        the access token satisfies `fresh_user` for `fresh_token_minutes`, and *amr*
        (RFC 8176 values such as `["pwd"]`) to record how the user signed in: every
        token of the session carries it.

        Raises:
            ValueError: `data["sub"]` is missing, or `data` holds a reserved claim.
            TokenStoreUnavailableError: nothing was issued.
        """
        return await self._sessions.create_token_pair(
            data,
            audience=audience,
            issuer=issuer,
            client=client or _NO_CLIENT,
            fresh=fresh,
            amr=amr,
            session=session,
        )

    async def verify_token(
        self,
        token: str,
        *,
        token_type: TokenType = "access",
        audience: str | None = None,
        issuer: str | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> TokenPayload:
        """Verify *token* completely and return its payload.

        Checks the signature with the pinned algorithm and the key named by `kid`,
        `exp`/`nbf`/`iat` (with `leeway_seconds`), `aud`/`iss`, the type, and then the
        token store in one statement: the token, its session and the user's
        logout-everywhere mark.

        Raises:
            ExpiredTokenError: the token or its session has expired.
            RevokedTokenError: the token, its session or all the user's sessions ended.
            InvalidTokenError: any other defect; `reason` says which.
            TokenStoreUnavailableError: the store could not be asked; nothing passes.
        """
        return await self._verifier.verify(
            token,
            token_type=token_type,
            audience=audience,
            issuer=issuer,
            client=client,
            session=session,
        )

    async def refresh(
        self,
        refresh_token: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Rotate a refresh token: return a new pair in the same session.

        The presented token is consumed by one conditional UPDATE, so of many
        concurrent refreshes of one token exactly one succeeds. A rotated token
        presented again ends the whole session (theft detection) unless it comes
        within `refresh_reuse_grace_seconds` of its rotation (two tabs racing), when
        it is only refused. The session's custom claims carry over; its absolute
        lifetime is never extended. A failure part-way changes nothing.

        Raises:
            RevokedTokenError: the token was rotated, revoked, or its session ended.
            ExpiredTokenError: the token or its session has expired.
            InvalidTokenError: the token is not a valid refresh token, or its user is
                gone or inactive.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._rotation.rotate(refresh_token, client or _NO_CLIENT, session)

    async def refresh_access_token(
        self,
        refresh_token: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Return a new access token of the refresh token's session; the refresh token stays.

        A rotated refresh token is treated exactly as in `refresh`.

        Raises:
            RevokedTokenError: the token was rotated, revoked, or its session ended.
            ExpiredTokenError: the token or its session has expired.
            InvalidTokenError: the token is not a valid refresh token, or its user is
                gone or inactive.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._rotation.reissue_access(refresh_token, client or _NO_CLIENT, session)
