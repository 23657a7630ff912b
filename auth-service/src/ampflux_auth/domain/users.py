"""Users of a company: creation, look-up within the caller's company, roles, deactivation,
profile and password changes, and password login."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import ProblemError, conflict, field_error, forbidden, not_found
from ampflux_shared.pagination import PageParams, Rows, paginate

from .. import events
from ..models import User
from .passwords import PasswordHasher
from .throttling import LoginLimits, Throttle, check_login_allowed, record_login_failure, record_login_success
from .tokens import revoke_user_sessions


class Role(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    MANAGER = "manager"
    OPERATOR = "operator"
    QUALITY = "quality"
    PURCHASING = "purchasing"
    ASSEMBLY = "assembly"
    VIEWER = "viewer"


def _plain(roles: list[str]) -> list[str]:
    # Plain, sorted, unique strings: they go to JSON columns, token claims and events.
    return sorted({str(r) for r in roles})


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_taken() -> ProblemError:
    # Says only what the caller must fix; nothing about the account or its company.
    err = conflict("This email address cannot be used for a new account.")
    err.errors = [field_error("email", "already registered", "email_taken")]
    return err


async def _flush_unique_email(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Two requests raced past the pre-check; the unique index decided.
        raise email_taken() from None


async def _ensure_email_free(session: AsyncSession, email: str) -> None:
    if (await session.scalar(select(User.id).where(User.email == email))) is not None:
        raise email_taken()


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    company_id: uuid.UUID,
    name: str,
    email: str,
    password: str,
    roles: list[str],
    actor_id: uuid.UUID | None,
    user_id: uuid.UUID | None = None,
) -> User:
    email = normalize_email(email)
    await _ensure_email_free(session, email)
    user = User(
        id=user_id or uuid.uuid4(),
        company_id=company_id,
        name=name.strip(),
        email=email,
        password_hash=await hasher.hash(password),
        roles=_plain(roles),
        is_active=True,
    )
    session.add(user)
    await _flush_unique_email(session)
    await events.user_registered(session, user, actor_id=actor_id)
    return user


async def get_company_user(session: AsyncSession, company_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """A user of `company_id`; another company's user is indistinguishable from none."""
    user = await session.scalar(select(User).where(User.id == user_id, User.company_id == company_id))
    if user is None:
        raise not_found("User")
    return user


async def list_company_users(session: AsyncSession, company_id: uuid.UUID, paging: PageParams) -> Rows[User]:
    query = select(User).where(User.company_id == company_id).order_by(User.created_at, User.id)
    return await paginate(session, query, paging)


async def _ensure_another_admin(session: AsyncSession, user: User) -> None:
    """A company must keep an active admin, or nobody could manage it any more."""
    stmt = select(User.roles).where(User.company_id == user.company_id, User.is_active, User.id != user.id)
    if not any(Role.ADMIN in roles for roles in (await session.scalars(stmt)).all()):
        raise conflict("A company needs at least one active admin.")


async def update_user(
    session: AsyncSession,
    user: User,
    *,
    name: str | None = None,
    roles: list[str] | None = None,
    actor_id: uuid.UUID | None,
) -> User:
    changed: list[str] = []
    if name is not None and name.strip() != user.name:
        user.name = name.strip()
        changed.append("name")
    if roles is not None and _plain(roles) != sorted(user.roles):
        if Role.ADMIN in user.roles and Role.ADMIN not in roles and user.is_active:
            await _ensure_another_admin(session, user)
        user.roles = _plain(roles)
        changed.append("roles")
    if changed:
        await session.flush()
        await events.user_updated(session, user, changed, actor_id=actor_id)
    return user


async def deactivate_user(session: AsyncSession, user: User, *, actor_id: uuid.UUID) -> User:
    if not user.is_active:
        return user
    if Role.ADMIN in user.roles:
        await _ensure_another_admin(session, user)
    user.is_active = False
    await revoke_user_sessions(session, user.id, "deactivated")
    await session.flush()
    await events.user_deactivated(session, user, actor_id=actor_id)
    return user


async def reactivate_user(session: AsyncSession, user: User, *, actor_id: uuid.UUID) -> User:
    if user.is_active:
        return user
    user.is_active = True
    await session.flush()
    await events.user_updated(session, user, ["is_active"], actor_id=actor_id)
    return user


async def update_profile(
    session: AsyncSession,
    hasher: PasswordHasher,
    user: User,
    *,
    name: str | None,
    email: str | None,
    current_password: str | None,
) -> User:
    changed: list[str] = []
    if name is not None and name.strip() != user.name:
        user.name = name.strip()
        changed.append("name")
    if email is not None and normalize_email(email) != user.email:
        # The email is the login: changing it needs the password, not just a stolen token.
        if not current_password or not (await hasher.verify(current_password, user.password_hash)).ok:
            raise forbidden(
                "Changing the email address requires the current password.",
                slug="password-required",
                errors=[field_error("current_password", "wrong or missing", "invalid_password")],
            )
        new_email = normalize_email(email)
        await _ensure_email_free(session, new_email)
        user.email = new_email
        changed.append("email")
    if changed:
        await _flush_unique_email(session)
        await events.user_updated(session, user, changed, actor_id=user.id)
    return user


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    user: User,
    *,
    current_password: str,
    new_password: str,
    keep_session: uuid.UUID | None,
) -> None:
    if not (await hasher.verify(current_password, user.password_hash)).ok:
        raise forbidden(
            "The current password is wrong.",
            slug="invalid-password",
            errors=[field_error("current_password", "wrong password", "invalid_password")],
        )
    user.password_hash = await hasher.hash(new_password)
    user.password_changed_at = datetime.now(UTC)
    # Whoever else holds a session (maybe whoever learned the old password) is logged out.
    await revoke_user_sessions(session, user.id, "password_change", keep=keep_session)


class LoginFailure(StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    failure: LoginFailure | None = None
    throttle: Throttle | None = None


async def authenticate(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    client_address: str,
    limits: LoginLimits,
) -> LoginResult:
    """Check a password login. Unknown email, wrong password and deactivated account all
    give the same failure after the same work. The caller commits even on failure, so that
    failures are counted."""
    email = normalize_email(email)
    throttle = await check_login_allowed(session, email=email, client_address=client_address, limits=limits)
    if throttle is not None:
        return LoginResult(failure=LoginFailure.THROTTLED, throttle=throttle)
    user = await session.scalar(select(User).where(User.email == email))
    check = await hasher.verify(password, user.password_hash if user is not None else None)
    if user is None or not check.ok or not user.is_active:
        await record_login_failure(session, email=email, client_address=client_address, limits=limits)
        return LoginResult(failure=LoginFailure.INVALID_CREDENTIALS)
    if check.new_hash is not None:
        # Stored with older argon2 parameters: upgrade while we have the plain password.
        user.password_hash = check.new_hash
    await record_login_success(session, email=email, client_address=client_address)
    return LoginResult(user=user)
