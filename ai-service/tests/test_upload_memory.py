"""A 200 MB upload streams through the service with flat memory: the service runs as its own
process, and its peak resident memory (VmHWM) grows by far less than the file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ampflux_testing.processes import free_port

MIB = 1024 * 1024
SIZE = 200 * MIB
HERE = Path(__file__).parent


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture
def service(reusable_postgres_database, tmp_path):
    """The service in its own process: (pid, base URL, a token)."""
    port = free_port()
    env = {
        **os.environ,
        "AI_DATABASE_URL": reusable_postgres_database("ai"),
        "AI_AMQP_URL": "",
        "AI_DATA_DIR": str(tmp_path),
        "AI_PROVIDER_BASE_URL": "http://127.0.0.1:9/v1",
        "AI_MODEL": "unused",
        "PYTHONPATH": os.pathsep.join([str(HERE.parents[1] / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "serve_for_memory_test.py"), str(port), str(uuid.uuid4()), str(uuid.uuid4())],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        token = proc.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        yield proc.pid, f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's memory from /proc")
async def test_a_200_mb_upload_streams_with_flat_memory(service):
    pid, base, token = service
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        # Warm up the route once (imports, connections) so the figure is the upload's alone.
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.post("/ai/files", files={"file": ("w.bin", b"\x00warm")}, headers=headers)
        assert r.status_code == 201, r.text
        peak_before = _status_kib(pid, "VmHWM")

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
        growth_mib = (_status_kib(pid, "VmHWM") - peak_before) / 1024
        print(f"200 MiB upload: {elapsed:.1f} s, peak RSS growth {growth_mib:.1f} MiB")
        assert growth_mib < 40, f"peak resident memory grew by {growth_mib:.1f} MiB for a 200 MiB upload"

        # Downloading streams too.
        peak_before = _status_kib(pid, "VmHWM")
        check = hashlib.sha256()
        async with client.stream("GET", f"/ai/files/{item['id']}/content", headers=headers) as download:
            async for chunk in download.aiter_bytes():
                check.update(chunk)
        assert check.hexdigest() == item["sha256"]
        assert (_status_kib(pid, "VmHWM") - peak_before) / 1024 < 40
