"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .domain.users import Role

# Long enough to resist guessing, short enough that hashing it is not a denial of service.
Password = Annotated[str, Field(min_length=10, max_length=128, examples=["correct horse battery"])]
# Not validated as an email on login: any string gets the same "invalid credentials" answer.
LoginEmail = Annotated[str, Field(min_length=1, max_length=320, examples=["ada@example.com"])]
# A plain shape check (no email-validator dependency); the address is stored lower case.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    Field(examples=["ada@example.com"]),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Scope = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:*-]{0,63}$")]


def _unique(values: list) -> list:
    return sorted(set(values))


Roles = Annotated[list[Role], Field(min_length=1, max_length=8, examples=[["engineer"]]), AfterValidator(_unique)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- registration and tokens --------------------------------------------------------------


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                    "company_name": "Analytical Engines Ltd",
                }
            ]
        }
    )

    name: Name
    email: Email
    password: Password
    company_name: Name


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "correct horse battery"}]}
    )

    email: LoginEmail
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class OAuth2PasswordForm(BaseModel):
    """The OAuth2 password grant as Swagger's Authorize button sends it (form-encoded)."""

    username: LoginEmail
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    grant_type: Annotated[str | None, Field(pattern="^password$")] = None
    scope: str = ""


class RefreshRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "3q2-7w…"}]})

    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9…",
                    "refresh_token": "3q2-7w…",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class ApiKeyToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9…",
                    "token_type": "bearer",
                    "expires_in": 300,
                    "api_key_id": "0b4e7c0a-5b8e-4d6f-9a51-3f3f4b0f2a11",
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    api_key_id: uuid.UUID


# --- companies and users ------------------------------------------------------------------


class CompanyRead(Schema):
    id: uuid.UUID
    name: str
    created_at: datetime


class UserRead(Schema):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c8a54-2c0d-4a57-8d0e-0f6b7c3e9d21",
                    "company_id": "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "roles": ["admin"],
                    "is_active": True,
                    "created_at": "2026-01-01T12:00:00Z",
                    "updated_at": "2026-01-01T12:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    company_id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class RegistrationRead(BaseModel):
    company: CompanyRead
    user: UserRead


class UserCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Grace Hopper",
                    "email": "grace@example.com",
                    "password": "a long initial password",
                    "roles": ["engineer"],
                }
            ]
        }
    )

    name: Name
    email: Email
    password: Password
    roles: Roles = [Role.VIEWER]


class UserUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"roles": ["engineer", "manager"]}]})

    name: Name | None = None
    roles: Roles | None = None


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Ada King"}]})

    name: Name | None = None
    email: Email | None = None
    current_password: Annotated[str | None, Field(max_length=1024, description="required to change the email")] = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current_password": "correct horse battery", "new_password": "an even longer passphrase"}]
        }
    )

    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


# --- API keys -----------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "nightly study export", "scopes": ["projects:read"], "expires_at": "2027-01-01T00:00:00Z"}
            ]
        }
    )

    name: Name
    scopes: Annotated[list[Scope], Field(max_length=32)] = []
    expires_at: datetime | None = Field(default=None, description="UTC; never expires when absent")


class ApiKeyRead(Schema):
    id: uuid.UUID
    name: str
    hint: str = Field(description="last characters of the secret")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the full key; shown only in this response", examples=["afx_0b4e…_9f2c…"])


# --- JWKS ---------------------------------------------------------------------------------


class JWKSRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "OKP",
                            "crv": "Ed25519",
                            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                            "kid": "20260101120000-1a2b3c4d",
                            "alg": "EdDSA",
                            "use": "sig",
                        }
                    ]
                }
            ]
        }
    )

    keys: list[dict[str, str]]
