"""load_circuit_file: plain and gzip JSON, and errors that name the file and the cause."""

import gzip
import json
from pathlib import Path

import pytest

from ampflux_shared.circuit import CircuitFileError, load_circuit_file


def test_reads_json_and_gzipped_json(cases_dir: Path, tmp_path: Path) -> None:
    source = cases_dir / "ind480_radial.json"
    expected = json.loads(source.read_text(encoding="utf-8"))
    compressed = tmp_path / "ind480_radial.json.gz"
    compressed.write_bytes(gzip.compress(source.read_bytes()))

    assert load_circuit_file(source) == expected
    assert load_circuit_file(str(compressed)) == expected


def test_gzip_content_is_recognised_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "circuit.json"
    path.write_bytes(gzip.compress(b'{"id": "x"}'))
    assert load_circuit_file(path) == {"id": "x"}


UNREADABLE = [
    ("bad.json", b'{"id": "x",\n "buses": [}', r"bad\.json: invalid JSON at line 2 column"),
    ("list.json", b"[1, 2]", r"must be a JSON object, found list"),
    ("nan.json", b'{"vn_kv": NaN}', r"NaN is not a JSON number"),
    ("latin1.json", '{"name": "Zürich"}'.encode("latin-1"), r"not UTF-8"),
    ("fake.json.gz", b'{"id": "x"}', r"named \.gz but not gzip-compressed"),
    ("cut.json.gz", gzip.compress(b'{"id": "x"}')[:12], r"not a readable gzip file"),
]


@pytest.mark.parametrize(("name", "content", "message"), UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_unreadable_content_is_a_clear_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CircuitFileError, match=message):
        load_circuit_file(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CircuitFileError, match=r"nowhere\.json: cannot read: No such file"):
        load_circuit_file(tmp_path / "nowhere.json")


def test_uploaded_bytes_load_plain_and_gzip_alike():
    from ampflux_shared.circuit import load_circuit_bytes

    raw = b'{"id": "x", "buses": []}'
    assert load_circuit_bytes(raw) == load_circuit_bytes(gzip.compress(raw)) == {"id": "x", "buses": []}


def test_decompression_is_bounded_so_a_small_upload_cannot_unpack_into_gigabytes():
    from ampflux_shared.circuit import CircuitTooLargeError, load_circuit_bytes

    bomb = gzip.compress(b'{"pad": "' + b" " * 5_000_000 + b'"}')
    assert len(bomb) < 10_000
    with pytest.raises(CircuitTooLargeError) as info:
        load_circuit_bytes(bomb, max_bytes=1_000_000)
    assert info.value.max_bytes == 1_000_000
    with pytest.raises(CircuitTooLargeError):
        load_circuit_bytes(b'{"pad": "' + b" " * 2_000 + b'"}', max_bytes=1_000)
