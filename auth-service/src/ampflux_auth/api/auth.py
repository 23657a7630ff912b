"""Registration, login, refresh, logout and the caller's own account."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from ampflux_shared.errors import ProblemError, too_many_requests, unauthorized
from ampflux_shared.security import CurrentPrincipal, public, scoped

from ..config import Settings
from ..domain import tokens, users
from ..domain.companies import register_company
from ..domain.signing_keys import KeyRing
from ..domain.throttling import LoginLimits
from ..models import RefreshTokenFamily, User
from ..schemas import (
    LoginRequest,
    OAuth2PasswordForm,
    PasswordChange,
    ProfileUpdate,
    RefreshRequest,
    RegistrationCreate,
    RegistrationRead,
    TokenPair,
    UserRead,
)
from .deps import (
    CurrentUser,
    DatabaseDep,
    HasherDep,
    InteractiveUser,
    KeyRingDep,
    MetricsDep,
    SessionDep,
    SettingsDep,
    client_address,
    problem,
)

# Signing up, in and out: no token needed (the refresh token is the credential).
router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[public()])
# The caller's own account: an API key needs `users:read` to see it (`users:write` to change it).
me_router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[scoped("users")])


def invalid_credentials() -> ProblemError:
    return unauthorized("Invalid email or password.", slug="invalid-credentials")


def invalid_refresh_token() -> ProblemError:
    # One answer for unknown, expired, revoked and reused: the client's only move is to log in.
    return unauthorized("The refresh token is not valid; log in again.", slug="invalid-refresh-token")


async def _token_pair(
    keyring: KeyRing, settings: Settings, user: User, family: RefreshTokenFamily, refresh_token: str
) -> TokenPair:
    access = tokens.mint_access_token(
        await keyring.signing_key(),
        user,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=settings.access_token_ttl_s,
        session_id=family.id,
    )
    return TokenPair(access_token=access.token, refresh_token=refresh_token, expires_in=access.expires_in)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Register a company with its first user (its admin)",
    responses={409: problem("email already registered")},
)
async def register(body: RegistrationCreate, session: SessionDep, hasher: HasherDep) -> RegistrationRead:
    company, user = await register_company(
        session,
        hasher,
        company_name=body.company_name,
        name=body.name,
        email=body.email,
        password=body.password,
    )
    return RegistrationRead.model_validate({"company": company, "user": user}, from_attributes=True)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


async def _read_credentials(request: Request) -> tuple[str, str]:
    """JSON `{email, password}` or the OAuth2 password form `username`/`password`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = OAuth2PasswordForm.model_validate(dict((await request.form()).items()))
            return form.username, form.password
        try:
            data = await request.json()
        except ValueError:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "expected a JSON object or an OAuth2 password form", "type": "body_invalid"}]
            ) from None
        login = LoginRequest.model_validate(data)
        return login.email, login.password
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False, include_context=False)]
        ) from None


@router.post(
    "/login",
    summary="Log in with email and password (JSON, or the OAuth2 password form)",
    responses={401: problem("invalid credentials"), 429: problem("too many failures")},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(LoginRequest)},
                "application/x-www-form-urlencoded": {"schema": _schema(OAuth2PasswordForm)},
            },
        }
    },
)
async def login(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    hasher: HasherDep,
    keyring: KeyRingDep,
    metrics: MetricsDep,
) -> TokenPair:
    email, password = await _read_credentials(request)
    limits = LoginLimits(
        window_s=settings.login_window_s,
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address,
        max_backoff_s=settings.login_max_backoff_s,
        known_client_s=settings.login_known_client_days * 24 * 3600,
    )
    # An explicit unit of work: a failed login must still commit its failure record.
    async with db.session() as session:
        result = await users.authenticate(
            session,
            hasher,
            email=email,
            password=password,
            client_address=client_address(request, settings),
            limits=limits,
        )
        if result.user is not None:
            family, refresh_token = await tokens.start_session(session, result.user, ttl_s=settings.refresh_token_ttl_s)
            metrics.logins.labels("success").inc()
            metrics.tokens_issued.labels("password").inc()
            return await _token_pair(keyring, settings, result.user, family, refresh_token)
    if result.throttle is not None:
        metrics.logins.labels("throttled").inc()
        metrics.throttled.labels(result.throttle.scope).inc()
        raise too_many_requests(
            "Too many failed logins; try again later.",
            slug="too-many-login-attempts",
            retry_after_s=result.throttle.retry_after_s,
        )
    metrics.logins.labels("invalid_credentials").inc()
    raise invalid_credentials()


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new pair (the old one is spent)",
    responses={401: problem("refresh token not valid")},
)
async def refresh(
    body: RefreshRequest, db: DatabaseDep, settings: SettingsDep, keyring: KeyRingDep, metrics: MetricsDep
) -> TokenPair:
    # Committed even when refused: a detected reuse must leave its family revoked.
    async with db.session() as session:
        rotation = await tokens.rotate_refresh_token(session, body.refresh_token, ttl_s=settings.refresh_token_ttl_s)
    if rotation.failure is not None:
        metrics.refresh_failures.labels(rotation.failure.value).inc()
        raise invalid_refresh_token()
    assert rotation.user and rotation.family and rotation.refresh_token
    metrics.tokens_issued.labels("refresh").inc()
    return await _token_pair(keyring, settings, rotation.user, rotation.family, rotation.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End the session the refresh token belongs to")
async def logout(body: RefreshRequest, session: SessionDep) -> Response:
    await tokens.end_session(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get("/me", summary="The caller's account")
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@me_router.patch(
    "/me",
    summary="Update the caller's name or email (email needs current_password)",
    responses={403: problem("wrong current password"), 409: problem("email taken")},
)
async def update_me(body: ProfileUpdate, user: InteractiveUser, session: SessionDep, hasher: HasherDep) -> UserRead:
    await users.update_profile(
        session, hasher, user, name=body.name, email=body.email, current_password=body.current_password
    )
    return UserRead.model_validate(user)


@me_router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change the caller's password; every other session is logged out",
    responses={403: problem("wrong current password")},
)
async def change_my_password(
    body: PasswordChange, principal: CurrentPrincipal, user: InteractiveUser, session: SessionDep, hasher: HasherDep
) -> Response:
    sid = principal.claims.get("sid")
    await users.change_password(
        session,
        hasher,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=_uuid_or_none(sid),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
