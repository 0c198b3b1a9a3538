"""The audit log as JSON lines (structlog), and Prometheus metrics at /metrics."""

import logging
import os
import sys

import structlog
from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    AuditLogHook,
    AuthManager,
    AuthSettings,
    PrometheusHook,
    SQLAlchemyUserLoader,
)

# --8<-- [start:structlog]
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.PrintLoggerFactory(sys.stdout),
)
# --8<-- [end:structlog]

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:hooks]
metrics = PrometheusHook()  # needs the `prometheus` extra
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    hooks=[AuditLogHook(), metrics],
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")
app.mount("/metrics", metrics.asgi_app())  # keep it off the public internet
# --8<-- [end:hooks]
