"""OpenAI SDKs send their key as `Authorization: Bearer <key>`: under /ai/v1 only, a bearer
value shaped like a platform API key is taken as an API key (the e2e test drives an SDK)."""

from ampflux_gateway.authn import api_key_in_bearer


def test_an_api_key_as_bearer_counts_only_under_ai_v1():
    key = "afx_0123456789abcdef0123456789abcdef_secret"
    assert api_key_in_bearer(key, "/ai/v1/chat/completions")
    assert api_key_in_bearer(key, "/ai/v1")
    for path in ("/ai/conversations", "/ai/v1x", "/projects", "/auth/me"):
        assert not api_key_in_bearer(key, path), path
    # JWTs and other values stay bearer tokens everywhere.
    assert not api_key_in_bearer("eyJhbGciOi.payload.sig", "/ai/v1/models")
    assert not api_key_in_bearer(None, "/ai/v1/models")
    assert not api_key_in_bearer("", "/ai/v1/models")
