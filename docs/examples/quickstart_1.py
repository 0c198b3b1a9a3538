"""main.py: a protected API in one file. Run it with `uvicorn main:app`."""

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine("sqlite+aiosqlite:///./app.db")
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))


auth = AuthManager(
    settings=AuthSettings(),  # reads JWT_SECRET_KEY and the other settings from the environment
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)  # your tables
    await auth.create_tables()  # authmanager's token tables
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
app.include_router(auth.router, prefix="/auth")


class SignUp(BaseModel):
    email: str
    password: str


@app.post("/signup", status_code=201)
async def signup(body: SignUp) -> dict[str, int]:
    hashed = await auth.hash_password_async(body.password)  # bcrypt, off the event loop
    async with sessions.begin() as db:
        user = User(email=body.email, hashed_password=hashed)
        db.add(user)
    return {"id": user.id}


@app.get("/me")
async def me(user: User = Depends(auth.current_user)) -> dict[str, str | int]:
    return {"id": user.id, "email": user.email}
