"""WebSockets: authenticate a socket, and have it closed (4001) when its session ends."""

import os

from app_models import User
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:app]
auth = AuthManager(
    # AUTH_WEBSOCKET_RECHECK_SECONDS (default 30): how soon a revoked socket is closed.
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


@app.websocket("/ws/chat")
async def chat(websocket: WebSocket, user: User = Depends(auth.websocket_user)) -> None:
    # Already accepted and authenticated; do not call websocket.accept() again.
    await websocket.send_json({"hello": user.email})
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_json({"from": user.email, "text": text})
    except WebSocketDisconnect:
        pass  # the client left, or authmanager closed the socket (4001: session ended)


# --8<-- [end:app]
