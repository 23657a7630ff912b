"""Token verification refuses every forged or misdirected token."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ampflux_shared.security import JWKSVerifier, Principal, TokenError
from ampflux_testing.tokens import AUDIENCE, ISSUER, TestSigner, token_claims

ISS, AUD = ISSUER, AUDIENCE


def make_key(kid: str):
    signer = TestSigner(kid=kid)
    return signer.private_key, signer.jwks()["keys"][0]


def claims(**over):
    """A token's claims; an override of None leaves that claim out."""
    c = token_claims(uuid.uuid4(), uuid.uuid4(), ["engineer"], **over)
    return {k: v for k, v in c.items() if v is not None}


class Source:
    def __init__(self, *jwks):
        self.keys = list(jwks)
        self.calls = 0
        self.fail = False

    async def __call__(self):
        self.calls += 1
        if self.fail:
            raise ConnectionError("auth service down")
        return {"keys": self.keys}


@pytest.fixture
async def setup():
    private, jwk = make_key("k1")
    source = Source(jwk)
    verifier = JWKSVerifier(issuer=ISS, audience=AUD, key_source=source, min_refetch_interval_s=0)
    await verifier.refresh(force=True)
    return private, jwk, source, verifier


async def test_valid_token_yields_principal(setup):
    private, _, _, verifier = setup
    token = jwt.encode(claims(), private, algorithm="EdDSA", headers={"kid": "k1"})
    principal = Principal.from_claims(await verifier.verify(token))
    assert principal.roles == frozenset({"engineer"})


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong_audience", "wrong_issuer", "no_exp", "no_sub", "forged", "no_kid", "unknown_kid"],
)
async def test_bad_tokens_are_refused(setup, case):
    private, _, _, verifier = setup
    headers = {"kid": "k1"}
    c = claims()
    key = private
    if case == "expired":
        c = claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    elif case == "wrong_audience":
        c = claims(aud="someone-else")
    elif case == "wrong_issuer":
        c = claims(iss="evil")
    elif case == "no_exp":
        c = claims(exp=None)
    elif case == "no_sub":
        c = claims(sub=None)
    elif case == "forged":
        key = Ed25519PrivateKey.generate()
    elif case == "no_kid":
        headers = {}
    elif case == "unknown_kid":
        headers = {"kid": "nope"}
    token = jwt.encode(c, key, algorithm="EdDSA", headers=headers)
    with pytest.raises(TokenError):
        await verifier.verify(token)


async def test_alg_none_is_refused(setup):
    _, _, _, verifier = setup

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'kid': 'k1', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(TokenError, match="algorithm"):
        await verifier.verify(token)


async def test_hs256_signed_with_the_public_key_is_refused(setup):
    private, _, _, verifier = setup
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    sig = b64(hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(TokenError, match="algorithm"):
        await verifier.verify(f"{head}.{body}.{sig}")


async def test_unknown_kid_triggers_refetch_after_rotation(setup):
    _, _, source, verifier = setup
    new_private, new_jwk = make_key("k2")
    source.keys.append(new_jwk)
    token = jwt.encode(claims(), new_private, algorithm="EdDSA", headers={"kid": "k2"})
    before = source.calls
    assert (await verifier.verify(token))["iss"] == ISS
    assert source.calls == before + 1


async def test_keeps_last_good_keys_when_auth_is_down(setup):
    private, _, source, verifier = setup
    source.fail = True
    assert await verifier.refresh(force=True) is False
    token = jwt.encode(claims(), private, algorithm="EdDSA", headers={"kid": "k1"})
    assert (await verifier.verify(token))["aud"] == AUD


async def test_unknown_kid_refetch_is_rate_limited():
    _private, jwk = make_key("k1")
    source = Source(jwk)
    verifier = JWKSVerifier(issuer=ISS, audience=AUD, key_source=source, min_refetch_interval_s=60)
    await verifier.refresh(force=True)
    other = Ed25519PrivateKey.generate()
    for _ in range(5):
        with pytest.raises(TokenError):
            await verifier.verify(jwt.encode(claims(), other, algorithm="EdDSA", headers={"kid": "zz"}))
    assert source.calls == 1
