"""`python serve_for_memory_test.py PORT USER_ID COMPANY_ID`: the AI service as its own
process (settings from the AI_* environment) trusting a throw-away signing key; prints one
token for that user on its first line, then serves. The memory test measures this process."""

from __future__ import annotations

import sys
import uuid

import uvicorn

from ampflux_ai.config import Settings
from ampflux_ai.main import create_app
from ampflux_testing.tokens import TestSigner


def main() -> None:
    port, user_id, company_id = int(sys.argv[1]), uuid.UUID(sys.argv[2]), uuid.UUID(sys.argv[3])
    signer = TestSigner(kid="memory-test")
    print(signer.sign(user_id, company_id, ["engineer"], ttl_s=3600), flush=True)
    app = create_app(Settings(), verifier=signer.verifier())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
