"""A 200 MB upload streams through the service with flat memory: the service runs as its own
process, and its peak resident memory (VmHWM) grows by far less than the file."""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ampflux_testing.processes import REPO, ServiceProcess, free_port

MIB = 1024 * 1024
SIZE = 200 * MIB
HERE = Path(__file__).parent
# The token serve_for_memory_test prints on its first line: three base64url parts.
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")


@pytest.fixture
def service(reusable_postgres_database, tmp_path) -> Iterator[tuple[ServiceProcess, str]]:
    """The service in its own process, and a token it trusts."""
    port = free_port()
    process = ServiceProcess(
        "ai",
        # A script of this folder, run as a module: PYTHONPATH below finds it (and ampflux_testing).
        "serve_for_memory_test",
        port,
        {
            "AI_DATABASE_URL": reusable_postgres_database("ai"),
            "AI_AMQP_URL": "",
            "AI_DATA_DIR": str(tmp_path),
            "AI_PROVIDER_BASE_URL": "http://127.0.0.1:9/v1",
            "AI_MODEL": "unused",
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
        },
        tmp_path / "ai.log",
        args=[str(port), str(uuid.uuid4()), str(uuid.uuid4())],
    )
    try:
        # The token is printed before the app is built, so it is in the log once /health answers.
        process.start(timeout_s=60)
        output = process.log_path.read_text(errors="replace").splitlines()
        token = next((line for line in output if JWT.match(line)), None)
        assert token, f"no token in the service's output:\n{process.log_tail()}"
        yield process, token
    finally:
        process.stop(timeout_s=30)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's memory from /proc")
async def test_a_200_mb_upload_streams_with_flat_memory(service):
    process, token = service
    async with httpx.AsyncClient(base_url=process.url, timeout=300) as client:
        # Warm up the route once (imports, connections) so the figure is the upload's alone.
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.post("/ai/files", files={"file": ("w.bin", b"\x00warm")}, headers=headers)
        assert r.status_code == 201, r.text
        peak_before = process.peak_rss_kib()

        block = os.urandom(MIB)
        boundary = "memorytestboundary"
        digest = hashlib.sha256()

        async def body():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            for i in range(SIZE // MIB):
                piece = block[:-4] + i.to_bytes(4, "big")  # every MiB differs
                digest.update(piece)
                yield piece
            yield f"\r\n--{boundary}--\r\n".encode()

        started = time.perf_counter()
        r = await client.post(
            "/ai/files",
            content=body(),
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        elapsed = time.perf_counter() - started
        assert r.status_code == 201, r.text
        item = r.json()["items"][0]
        assert item["size"] == SIZE and item["sha256"] == digest.hexdigest()
        growth_mib = (process.peak_rss_kib() - peak_before) / 1024
        print(f"200 MiB upload: {elapsed:.1f} s, peak RSS growth {growth_mib:.1f} MiB")
        assert growth_mib < 40, f"peak resident memory grew by {growth_mib:.1f} MiB for a 200 MiB upload"

        # Downloading streams too.
        peak_before = process.peak_rss_kib()
        check = hashlib.sha256()
        async with client.stream("GET", f"/ai/files/{item['id']}/content", headers=headers) as download:
            async for chunk in download.aiter_bytes():
                check.update(chunk)
        assert check.hexdigest() == item["sha256"]
        assert (process.peak_rss_kib() - peak_before) / 1024 < 40
