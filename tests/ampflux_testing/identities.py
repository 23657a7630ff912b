"""Test users and companies whose tokens a service's test app trusts.

Each service's tests sign with a `TestSigner` of their own whose key set the app under test
verifies, so a test acts as any user of any company without an auth service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .tokens import TestSigner


@dataclass
class User:
    signer: TestSigner
    company_id: uuid.UUID
    roles: list[str]
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def token(self) -> str:
        return self.signer.sign(self.id, self.company_id, self.roles)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def key_headers(self, *scopes: str) -> dict[str, str]:
        """Headers of an API key of this user with `scopes`."""
        return {
            "Authorization": f"Bearer {self.signer.sign(self.id, self.company_id, self.roles, scopes=list(scopes))}"
        }


@dataclass
class Company:
    signer: TestSigner
    # The roles of `user()` when none are given (the service's usual caller).
    default_roles: tuple[str, ...] = ("engineer",)
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def user(self, *roles: str) -> User:
        return User(self.signer, self.id, list(roles or self.default_roles))
