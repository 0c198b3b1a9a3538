"""Events and hooks: audit logging and metrics for everything authmanager decides.

A hook is any callable, plain or `async`, that takes one [`AuthEvent`][authmanager.hooks.AuthEvent]:

```python
def print_event(event: AuthEvent) -> None:
    print(event.name, event.user_id)

auth = AuthManager(..., hooks=[print_event, AuditLogHook()])
```

Hooks run after the outcome is decided, off the request's path, each bounded by
`hook_timeout_seconds`; one that raises or hangs is logged and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["AuditLogHook", "AuthEvent", "EventName", "Hook", "PrometheusHook"]


class EventName(StrEnum):
    """The names of events, stable dotted strings."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_RATE_LIMITED = "login.rate_limited"
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFRESHED = "token.refreshed"
    TOKEN_REVOKED = "token.revoked"
    TOKEN_REJECTED = "token.rejected"
    REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
    SESSION_REVOKED = "session.revoked"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    PASSWORD_REHASHED = "password.rehashed"
    DEVICE_MISMATCH = "device.mismatch"
    LOGIN_UNLOCKED = "login.unlocked"
    PASSWORD_CHANGED = "password.changed"
    USER_DEACTIVATED = "user.deactivated"
    # Account flows
    ACCOUNT_REGISTERED = "account.registered"
    EMAIL_VERIFICATION_SENT = "email.verification_sent"
    EMAIL_VERIFIED = "email.verified"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    EMAIL_CHANGE_REQUESTED = "email.change_requested"
    EMAIL_CHANGED = "email.changed"
    LOGIN_LINK_SENT = "login_link.sent"
    MESSAGE_FAILED = "message.failed"
    # Second factors
    MFA_CHALLENGED = "mfa.challenged"
    MFA_SUCCEEDED = "mfa.succeeded"
    MFA_FAILED = "mfa.failed"
    FACTOR_ADDED = "factor.added"
    FACTOR_REMOVED = "factor.removed"
    RECOVERY_CODE_USED = "recovery_code.used"
    # External identities
    IDENTITY_LINKED = "identity.linked"
    IDENTITY_UNLINKED = "identity.unlinked"
    # API keys and administration
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    SESSION_EVICTED = "session.evicted"
    IMPERSONATION_STARTED = "impersonation.started"


@dataclass(frozen=True, slots=True)
class AuthEvent:
    """One security-relevant step. No field can hold a token, a password or a secret.

    Attributes:
        name: What happened, an [`EventName`][authmanager.hooks.EventName].
        at: When, timezone-aware UTC.
        user_id: The user concerned, when known.
        session_id: The login session concerned, when known.
        token_id: The `jti` of the token concerned, when known.
        client_ip: The client's address, when known.
        user_agent: The client's `User-Agent`, when known.
        reason: Why, for rejections and revocations (a stable code).
        extra: A few more non-secret facts (counts, durations).
    """

    name: EventName
    at: datetime
    user_id: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    reason: str | None = None
    extra: dict[str, int | float | str | bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the event as plain values, for logs and JSON."""
        data: dict[str, Any] = {
            "event": str(self.name),
            "at": self.at.isoformat(),
            "user_id": self.user_id,
            "session_id": self.session_id,
            "token_id": self.token_id,
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
            "reason": self.reason,
        }
        data.update(self.extra)
        return {k: v for k, v in data.items() if v is not None}


class Hook(Protocol):
    """Anything callable with one `AuthEvent`; it may return an awaitable."""

    def __call__(self, event: AuthEvent, /) -> Awaitable[None] | None:  # pragma: no cover
        ...


class AuditLogHook:
    """Write one structured structlog line per event, under the `authmanager.audit` logger.

    Args:
        logger: A structlog logger to use instead of `structlog.get_logger("authmanager.audit")`.
        level: The log method to call (`"info"`, `"warning"`, ...); failures and
            reuse detections are always logged at warning.
    """

    _WARN = frozenset(
        {
            EventName.LOGIN_FAILED,
            EventName.LOGIN_RATE_LIMITED,
            EventName.TOKEN_REJECTED,
            EventName.REFRESH_REUSE_DETECTED,
            EventName.DEVICE_MISMATCH,
        }
    )

    def __init__(self, logger: Any = None, *, level: str = "info") -> None:
        if logger is None:
            import structlog

            logger = structlog.get_logger("authmanager.audit")
        self._logger = logger
        self._level = level

    def __call__(self, event: AuthEvent) -> None:
        """Log *event*."""
        fields = event.as_dict()
        name = fields.pop("event")
        method = "warning" if event.name in self._WARN else self._level
        getattr(self._logger, method)(name, **fields)


class PrometheusHook:
    """Count events in Prometheus (needs the `prometheus` extra).

    Exposes `authmanager_events_total{event, outcome}` and
    `authmanager_verify_seconds` (a histogram of token verification time).
    Mount the metrics with `app.mount("/metrics", hook.asgi_app())`.

    Args:
        registry: The registry to register in; a new private one by default, so two
            managers (or two tests) never clash.
        namespace: Prefix of the metric names.
    """

    _FAILURE = frozenset(
        {
            EventName.LOGIN_FAILED,
            EventName.LOGIN_RATE_LIMITED,
            EventName.TOKEN_REJECTED,
            EventName.REFRESH_REUSE_DETECTED,
            EventName.DEVICE_MISMATCH,
        }
    )

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "authmanager"
    ) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise ImportError(
                "PrometheusHook needs prometheus-client: pip install 'authmanager[prometheus]'."
            ) from exc
        self.registry = registry if registry is not None else CollectorRegistry()
        self.events = Counter(
            f"{namespace}_events_total",
            "Authentication events by name and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.rejections = Counter(
            f"{namespace}_rejections_total",
            "Rejected tokens and logins by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.verify_seconds = Histogram(
            f"{namespace}_verify_seconds",
            "Time to verify a token, database included.",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )

    def __call__(self, event: AuthEvent) -> None:
        """Count *event*."""
        outcome = "failure" if event.name in self._FAILURE else "success"
        self.events.labels(event=str(event.name), outcome=outcome).inc()
        if event.reason and outcome == "failure":
            self.rejections.labels(reason=event.reason).inc()

    def observe_verify(self, seconds: float) -> None:
        """Record one verification's duration (the manager calls this)."""
        self.verify_seconds.observe(seconds)

    def asgi_app(self) -> Callable[..., Awaitable[None]]:
        """Return an ASGI app serving this hook's registry, for `app.mount("/metrics", ...)`."""
        from prometheus_client import make_asgi_app

        app: Callable[..., Awaitable[None]] = make_asgi_app(registry=self.registry)
        return app

    def exposition(self) -> str:
        """Return the text exposition of this hook's registry."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()
