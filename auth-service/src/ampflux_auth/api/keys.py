"""The public half of the signing keys, for every verifier of our tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ampflux_shared.security import public

from ..schemas import JWKSRead
from .deps import KeyRingDep

router = APIRouter(tags=["keys"], dependencies=[public()])


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens (JWKS)")
async def jwks(keyring: KeyRingDep, response: Response) -> JWKSRead:
    # Short cache: verifiers refetch on an unknown kid anyway, so a rotation is never stuck behind it.
    response.headers["Cache-Control"] = "public, max-age=60"
    return JWKSRead.model_validate(await keyring.jwks())
