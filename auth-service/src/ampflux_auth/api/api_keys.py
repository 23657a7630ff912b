"""API keys: created by users for their scripts, and exchanged by the gateway for tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from ampflux_shared.errors import field_error, forbidden, unauthorized, validation_failed
from ampflux_shared.pagination import Page, PageDep
from ampflux_shared.security import public, require_scope, scoped
from ampflux_shared.security.scopes import scopes_beyond_roles, unknown_scopes

from ..domain import api_keys, tokens
from ..domain.users import Role
from ..schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, ApiKeyToken
from .deps import CurrentUser, DatabaseDep, InteractiveUser, KeyRingDep, MetricsDep, SessionDep, SettingsDep, problem

# Managing keys is user management: `users:admin` for a key, whatever the method.
router = APIRouter(
    prefix="/auth/api-keys", tags=["api-keys"], dependencies=[require_scope("users:admin"), scoped("users")]
)
# The gateway's exchange: the API key in the header is the credential (internal to the platform).
exchange_router = APIRouter(prefix="/auth/api-keys", tags=["api-keys"], dependencies=[public()])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the key is shown only here)",
    responses={
        403: problem("a scope beyond what the caller's roles allow"),
        422: problem("an unknown scope, or an expiry in the past"),
    },
)
async def create_api_key(body: ApiKeyCreate, user: InteractiveUser, session: SessionDep) -> ApiKeyCreated:
    _check_scopes(list(body.scopes), user.roles)
    expires_at = body.expires_at
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise validation_failed([field_error("expires_at", "must be in the future", "in_past")])
    key, full_key = await api_keys.create_api_key(
        session, user, name=body.name, scopes=list(body.scopes), expires_at=expires_at
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(key).model_dump(), "key": full_key})


@router.get("", summary="The caller's API keys (without their secrets)")
async def list_api_keys(user: CurrentUser, session: SessionDep, paging: PageDep) -> Page[ApiKeyRead]:
    rows = await api_keys.list_api_keys(session, user, paging)
    return Page[ApiKeyRead].model_validate(rows.to_page([ApiKeyRead.model_validate(k) for k in rows.items]))


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key (own keys; admins: any key of the company)",
    responses={404: problem("no such key")},
)
async def revoke_api_key(key_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await api_keys.revoke_api_key(
        session, key_id, user_id=user.id, company_id=user.company_id, is_admin=Role.ADMIN in user.roles
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_scopes(scopes: list[str], roles: list[str]) -> None:
    """Known scopes only (422), and none beyond the creator's roles (403): a key never does
    more than the person who made it."""
    unknown = set(unknown_scopes(scopes))
    if unknown:
        raise validation_failed(
            [
                field_error(f"scopes.{i}", f"unknown scope {s!r}; see the scope vocabulary", "unknown_scope")
                for i, s in enumerate(scopes)
                if s in unknown
            ]
        )
    beyond = scopes_beyond_roles(scopes, roles)
    if beyond:
        raise forbidden(
            f"your roles do not allow a key with the scope {beyond[0]!r}", slug="scope-exceeds-creator", scopes=beyond
        )


@exchange_router.post(
    "/exchange",
    summary="For the gateway: trade an API key for a short-lived access token",
    responses={401: problem("unknown, revoked or expired key, or inactive user")},
)
async def exchange_api_key(
    x_api_key: Annotated[str, Header(alias="X-API-Key", max_length=512)],
    db: DatabaseDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    metrics: MetricsDep,
) -> ApiKeyToken:
    async with db.session() as session:
        check = await api_keys.check_api_key(session, x_api_key)
    if check.failure is not None:
        metrics.api_key_exchanges.labels(check.failure.value).inc()
        # One answer for every refusal: a caller probing keys learns nothing about which part failed.
        raise unauthorized("The API key is not valid.", slug="invalid-api-key", scheme="ApiKey")
    assert check.key and check.user
    access = tokens.mint_access_token(
        await keyring.signing_key(),
        check.user,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=settings.api_key_token_ttl_s,
        api_key_id=check.key.id,
        scopes=list(check.key.scopes),
    )
    metrics.api_key_exchanges.labels("success").inc()
    metrics.tokens_issued.labels("api_key").inc()
    return ApiKeyToken(access_token=access.token, expires_in=access.expires_in, api_key_id=check.key.id)
