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


def _nested(depth: int, kinds: str = "{[") -> object:
    value: object = 1
    for level in range(depth):
        value = {"k": value} if kinds[level % len(kinds)] == "{" else [value]
    return value


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ({}, 1), ([], 1), ({"a": [1, {"b": []}]}, 4), ([{}, [[], [[{}]]]], 5), (_nested(32), 32)],
)
def test_document_depth_counts_objects_and_arrays(value: object, depth: int) -> None:
    from ampflux_shared.circuit.limits import document_depth

    assert document_depth(value) == depth
    assert document_depth(value, stop_after=2) == min(depth, 3)


def test_a_document_nested_too_deep_is_refused_and_one_at_the_limit_is_read() -> None:
    from ampflux_shared.circuit import MAX_DOCUMENT_DEPTH, load_circuit_bytes

    at_limit = {"id": _nested(MAX_DOCUMENT_DEPTH - 1)}
    assert load_circuit_bytes(json.dumps(at_limit).encode()) == at_limit
    with pytest.raises(CircuitFileError, match=f"nested more than {MAX_DOCUMENT_DEPTH} levels deep"):
        load_circuit_bytes(json.dumps({"id": _nested(MAX_DOCUMENT_DEPTH)}).encode())
    # deep enough to exhaust a parser's stack: still the same clear error
    with pytest.raises(CircuitFileError, match="levels deep"):
        load_circuit_bytes(b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


# What the fast reader (msgspec) refuses goes to the json module, so it is read or refused as before.
EDGE_DOCUMENTS = [
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    b'{"a": 123456789012345678901234567890, "b": -1e-320, "c": -0.0, "d": 1E5, "e": 0.1000000000000000055511}',
    b'{"a": 1e400}',  # json reads inf; validation refuses it (msgspec refuses it here)
    b'{"a": "\\ud800 \\u00e9 \\u0000"}',  # a lone surrogate escape: json reads it
    b'\xef\xbb\xbf{"a": "bom"}',
    b' {"a": [true, false, null, "x"]} ',
]


@pytest.mark.parametrize("raw", EDGE_DOCUMENTS)
def test_the_fast_reader_reads_what_the_json_module_reads(raw: bytes) -> None:
    from ampflux_shared.circuit import load_circuit_bytes

    expected = json.loads(raw.decode("utf-8-sig"))
    assert json.dumps(load_circuit_bytes(raw)) == json.dumps(expected)


def test_the_fast_reader_reads_every_reference_document_and_random_numbers_as_json_does(cases_dir: Path) -> None:
    import random

    from ampflux_shared.circuit import load_circuit_bytes
    from ampflux_shared.circuit.io import _fast_decode

    rng = random.Random(13)
    numbers = [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [rng.lognormvariate(0, 30) for _ in range(2000)]
    texts = [json.dumps({"x": numbers}), *(f'{{"x": {rng.random():.{rng.randint(1, 25)}f}}}' for _ in range(500))]
    texts += [path.read_text(encoding="utf-8") for path in sorted(cases_dir.glob("*.json"))]
    for text in texts:
        assert _fast_decode(text) is not None  # the fast path is the one tested
        assert json.dumps(load_circuit_bytes(text.encode())) == json.dumps(json.loads(text))
