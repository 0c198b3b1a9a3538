"""main.py: a protected API in one file. Run it with `uvicorn main:app`."""

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
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
    settings=AuthSettings(),  # JWT_* / AUTH_* from the environment or a .env file
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)  # your tables
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
# /auth/login, /refresh, /logout, /sessions, /health; error handlers; token tables at start-up
auth.install(app, create_tables=True)


class SignUp(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=1024)

    @field_validator("email")
    @classmethod
    def normalise(cls, value: str) -> str:
        value = value.strip().lower()  # the loader compares logins the same way
        if value.count("@") != 1 or " " in value:
            raise ValueError("not an email address")
        return value


@app.post("/signup", status_code=201)
async def signup(body: SignUp) -> dict[str, int]:
    hashed = await auth.hash_password_async(body.password)  # bcrypt, off the event loop
    try:
        async with sessions.begin() as db:
            user = User(email=body.email, hashed_password=hashed)
            db.add(user)
    except IntegrityError:
        raise HTTPException(409, "This email is already registered.") from None
    return {"id": user.id}


@app.get("/me")
async def me(user: User = Depends(auth.current_user)) -> dict[str, str | int]:
    return {"id": user.id, "email": user.email}
