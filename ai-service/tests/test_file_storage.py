"""The blob store's contract, on the filesystem and on an S3-compatible server (moto's, started
here as a process on a spare port through ampflux_testing.processes), and the file routes on S3."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import partial
from pathlib import Path

import boto3
import pytest

from ampflux_ai.domain.storage import FilesystemStore, S3Store
from ampflux_testing.polling import eventually
from ampflux_testing.processes import ServiceProcess, free_port

BUCKET = "ampflux-ai-test"
S3_KEYS = {"access_key_id": "test", "secret_access_key": "test", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory):
    # A dev dependency (moto[server]): `make test` installs it, so its absence is a failure, not a skip.
    assert importlib.util.find_spec("moto"), "moto is not installed (dev dependency moto[server]); run make install"
    port = free_port()
    # moto's server has no /health; its own API's state answers once it serves.
    moto = ServiceProcess(
        "moto_server",
        "moto.server",
        port,
        {},
        tmp_path_factory.mktemp("moto") / "moto_server.log",
        ready_path="/moto-api/data.json",
        args=["-H", "127.0.0.1", "-p", str(port)],
    )
    try:
        moto.start(timeout_s=30)
        boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=BUCKET)
        yield moto.url
    finally:
        moto.stop(timeout_s=10)


def _s3(url: str) -> S3Store:
    return S3Store(bucket=BUCKET, endpoint_url=url, prefix="contract/", **S3_KEYS)


@pytest.fixture(params=["filesystem", "s3"])
def store(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "blobs")
    return _s3(request.getfixturevalue("s3_url"))


def _spool(tmp_path: Path, content: bytes) -> tuple[str, Path]:
    path = tmp_path / f"spool-{os.urandom(4).hex()}"
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest(), path


async def _read_all(store, sha: str) -> tuple[bytes, int]:
    chunks = [c async for c in store.read(sha)]
    return b"".join(chunks), len(chunks)


async def test_blob_store_contract(store, tmp_path):
    content = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk
    sha, path = _spool(tmp_path, content)
    assert await store.exists(sha) is False
    await store.put(sha, path)
    assert await store.exists(sha) is True
    data, chunks = await _read_all(store, sha)
    assert data == content and chunks > 1
    # Storing the same content again is a no-op (content-addressed).
    _, again = _spool(tmp_path, content)
    await store.put(sha, again)
    assert (await _read_all(store, sha))[0] == content
    await store.delete(sha)
    assert await store.exists(sha) is False
    with pytest.raises(FileNotFoundError):
        await _read_all(store, sha)
    await store.delete(sha)  # already gone: no error
    with pytest.raises(ValueError):
        await store.exists("../../etc/passwd")


async def test_the_file_routes_on_s3(settings, s3_url, company, app_client, tmp_path):
    s3_settings = settings.model_copy(
        update={
            "file_storage": "s3",
            "s3_endpoint_url": s3_url,
            "s3_bucket": BUCKET,
            "s3_access_key_id": "test",
            "s3_secret_access_key": "test",
            "s3_prefix": f"routes-{os.urandom(3).hex()}/",
        }
    )
    async for client in app_client(s3_settings):
        user = company.user()
        body = b"col,val\na,1\nb,2\n"
        r = await client.post("/ai/files", files={"file": ("t.csv", body)}, headers=user.headers)
        assert r.status_code == 201, r.text
        item = r.json()["items"][0]
        r = await client.get(f"/ai/files/{item['id']}/content", headers=user.headers)
        assert r.content == body
        blob = _s3(s3_url)
        blob.prefix = s3_settings.s3_prefix
        assert await blob.exists(item["sha256"])
        assert (await client.delete(f"/ai/files/{item['id']}", headers=user.headers)).status_code == 204
        # The blob goes after the commit, in the background.
        await eventually(partial(_gone, blob, item["sha256"]), timeout=5, what="the deleted file's blob to go")


async def _gone(store: S3Store, sha: str) -> bool:
    return not await store.exists(sha)
