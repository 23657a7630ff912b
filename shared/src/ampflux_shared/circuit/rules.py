"""The rules that decide whether a circuit document is valid, as one digest.

A service that validates a document and acts on it later (the solver tier: checked at
submit, solved by a worker after a queue) stores the digest with the document and checks it
again only when the digest it runs differs: a deploy in between changed the rules.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

import pydantic
import pydantic_core


@functools.cache
def rules_digest() -> str:
    """A hex digest of this package's sources (the model and every check) and the pydantic
    versions that run them: the same digest, the same verdict on any document. Not a
    hand-kept version number, so no change to the rules can forget to bump it. "" where the
    package is installed without its sources: unknown rules, so every later use checks again.
    """
    digest = hashlib.sha256(f"pydantic {pydantic.VERSION} {pydantic_core.__version__}".encode())
    package = resources.files(__package__ or "ampflux_shared.circuit")
    sources = sorted(entry.name for entry in package.iterdir() if entry.name.endswith(".py"))
    if not sources:
        return ""
    for name in sources:
        digest.update(b"\0" + name.encode() + b"\0" + package.joinpath(name).read_bytes())
    return digest.hexdigest()
