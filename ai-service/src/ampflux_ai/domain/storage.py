"""Where uploaded files' bytes live: content-addressed by SHA-256, behind one small interface.

`FilesystemStore` keeps blobs under the service's data folder (`<root>/ab/cd/<sha256>`);
`S3Store` in any S3-compatible bucket (AWS, MinIO, Ceph...). Both take a file already
spooled to local disk (its hash computed while it was written), so neither ever holds a
whole file in memory; reads come back in chunks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

CHUNK = 1024 * 1024


class BlobStore(Protocol):
    async def put(self, sha256: str, source: Path) -> None:
        """Store the file at `source` (whose hash is `sha256`), which it may move away; storing an
        existing blob again is a no-op."""

    async def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; FileNotFoundError if it is not stored."""
        ...

    async def delete(self, sha256: str) -> None:
        """Remove the blob (no error if it is already gone)."""


def _check(sha256: str) -> str:
    # The name is a path component: only ever a SHA-256 in hex.
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class FilesystemStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        sha256 = _check(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, sha256: str, source: Path) -> None:
        await asyncio.to_thread(self._put, self._path(sha256), source)

    @staticmethod
    def _put(target: Path, source: Path) -> None:
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The spool file is on the same disk: a rename, not a second copy of a large file.
            os.replace(source, target)
        except OSError:
            # Another device: copied to a temporary name then renamed, so a reader never sees half a blob.
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).exists)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(sha256), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._path(sha256).unlink, missing_ok=True)


class S3Store:
    """boto3 in worker threads: its transfer manager uploads large files in parts from disk."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        prefix: str = "",
    ) -> None:
        import boto3  # only the S3 store needs it loaded

        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
        )

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{_check(sha256)}"

    async def put(self, sha256: str, source: Path) -> None:
        if await self.exists(sha256):
            return
        await asyncio.to_thread(self._client.upload_file, str(source), self.bucket, self._key(sha256))

    async def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(sha256) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(sha256))


def store_from_settings(settings: Any) -> BlobStore:
    if settings.file_storage == "s3":
        return S3Store(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
        )
    return FilesystemStore(settings.files_root())
