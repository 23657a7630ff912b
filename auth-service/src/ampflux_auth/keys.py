"""`python -m ampflux_auth.keys {list,rotate,prune}`: signing-key maintenance.

rotate  a new key signs from now on (running replicas switch within AUTH_SIGNING_KEY_CACHE_S);
        the previous keys stay in the JWKS so tokens they signed keep verifying.
prune   retire keys rotated out long enough ago that every token they signed has expired:
        they leave the JWKS and their private halves are erased.
retire KID  retire one key at once, live tokens or not (after a leak; rotate first).
list    every key with its state.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ampflux_shared.db import Database

from .config import Settings
from .domain.signing_keys import list_signing_keys, prune_signing_keys, retire_signing_key, rotate_signing_key


def longest_token_ttl_s(settings: Settings) -> int:
    """How long a key must stay published after it stops signing: the longest-lived token it
    may have signed, plus the time a replica may keep signing with it from its cache."""
    return max(settings.access_token_ttl_s, settings.api_key_token_ttl_s) + int(settings.signing_key_cache_s) + 1


async def rotate(settings: Settings) -> str:
    db = Database.from_settings(settings)
    passphrase = settings.key_passphrase()
    try:
        async with db.session() as session:
            key = await rotate_signing_key(session, passphrase=passphrase)
            return key.kid
    finally:
        await db.dispose()


async def prune(settings: Settings) -> list[str]:
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            return await prune_signing_keys(session, max_token_ttl_s=longest_token_ttl_s(settings))
    finally:
        await db.dispose()


async def retire(settings: Settings, kid: str) -> bool:
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            return await retire_signing_key(session, kid)
    finally:
        await db.dispose()


async def describe(settings: Settings) -> list[str]:
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            keys = await list_signing_keys(session)
    finally:
        await db.dispose()
    lines = []
    for k in keys:
        state = "retired" if k.retired_at else ("published" if k.rotated_out_at else "signing")
        when = (k.retired_at or k.rotated_out_at or k.created_at).isoformat()
        lines.append(f"{k.kid}\t{state}\tsince {when}")
    return lines


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ampflux_auth.keys", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "rotate", "prune", "retire"])
    parser.add_argument("kid", nargs="?", help="the key to retire (retire only)")
    args = parser.parse_args(argv)
    if (args.command == "retire") != (args.kid is not None):
        parser.error("retire takes exactly one KID; the other commands take none")
    settings = settings or Settings()
    if args.command == "rotate":
        print(f"new signing key: {asyncio.run(rotate(settings))}")
    elif args.command == "prune":
        retired = asyncio.run(prune(settings))
        print("retired: " + (", ".join(retired) if retired else "none"))
    elif args.command == "retire":
        try:
            found = asyncio.run(retire(settings, args.kid))
        except ValueError as exc:
            parser.exit(2, f"error: {exc}\n")
        if not found:
            parser.exit(1, f"error: no key {args.kid}\n")
        print(f"retired: {args.kid}")
    else:
        print("\n".join(asyncio.run(describe(settings))) or "no keys yet (created at first start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
