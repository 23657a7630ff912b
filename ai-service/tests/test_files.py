"""Files: upload one or several (multipart, streamed to the store), list, read, download,
delete; the type comes from the content, a name that lies is refused; text is extracted (PDF
included); limits answer 413/409 naming the limit; another company's file is 404; a circuit
document is analysed (and studied) without the model; attachments reach the model's context,
cut to its window with a note."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import jwt
from fpdf import FPDF

from ampflux_shared.circuit import parse_circuit
from ampflux_simulation.solver import solve_study
from ampflux_testing.circuits import load_case
from ampflux_testing.polling import eventually


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _circuit() -> dict:
    doc = load_case("ind480_radial")
    doc.pop("expected", None)
    return doc


async def _upload(client, user, *files: tuple[str, bytes]) -> httpx.Response:
    return await client.post(
        "/ai/files",
        files=[("file", (name, content, "application/octet-stream")) for name, content in files],
        headers=user.headers,
    )


def _blobs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".spool" not in p.parts]


async def test_upload_list_read_download_delete(client, company, settings):
    user = company.user()
    notes = b"# Substation notes\n\nBreaker Q1 rated 25 kA.\n"
    table = b"bus,ikss_ka\nMV,12.5\nLV,31.0\n"
    r = await _upload(client, user, ("notes.md", notes), ("results.csv", table), ("same.md", notes))
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [(f["name"], f["media_type"], f["size"]) for f in items] == [
        ("notes.md", "text/markdown", len(notes)),
        ("results.csv", "text/csv", len(table)),
        ("same.md", "text/markdown", len(notes)),
    ]
    assert items[0]["sha256"] == items[2]["sha256"] and items[0]["text_chars"] == len(notes.decode())
    # Content-addressed: the same bytes are one blob.
    root = settings.files_root()
    assert len(_blobs(root)) == 2 and not list((root / ".spool").iterdir())

    page = (await client.get("/ai/files", params={"page_size": 2}, headers=user.headers)).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["page_size"] == 2
    one = await client.get(f"/ai/files/{items[1]['id']}", headers=user.headers)
    assert one.status_code == 200 and one.json()["name"] == "results.csv"
    content = await client.get(f"/ai/files/{items[1]['id']}/content", headers=user.headers)
    assert content.status_code == 200 and content.content == table
    assert content.headers["content-type"].startswith("text/csv")
    assert 'filename="results.csv"' in content.headers["content-disposition"]

    # The blob stays while another file still uses it, and goes with the last one.
    assert (await client.delete(f"/ai/files/{items[0]['id']}", headers=user.headers)).status_code == 204
    assert len(_blobs(root)) == 2
    assert (await client.delete(f"/ai/files/{items[2]['id']}", headers=user.headers)).status_code == 204
    assert (await client.get(f"/ai/files/{items[2]['id']}", headers=user.headers)).status_code == 404
    # Removed after the commit, in the background.
    await eventually(
        lambda: len(_blobs(root)) == 1, timeout=10, interval=0.02, what=lambda: f"one blob left: {_blobs(root)}"
    )
    metrics = (await client.get("/metrics")).text
    assert 'ampflux_ai_files_uploaded_total{media_type="text/markdown"} 2.0' in metrics


async def test_another_companys_file_is_404(client, company, other_company):
    r = await _upload(client, company.user(), ("a.txt", b"private text"))
    file_id = r.json()["items"][0]["id"]
    stranger = other_company.user("admin")
    for method, path in (
        ("GET", f"/ai/files/{file_id}"),
        ("GET", f"/ai/files/{file_id}/content"),
        ("DELETE", f"/ai/files/{file_id}"),
        ("POST", f"/ai/files/{file_id}/analyze"),
    ):
        r = await client.request(method, path, headers=stranger.headers)
        assert r.status_code == 404, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/ai/files", headers=stranger.headers)).json()["total"] == 0


async def test_a_spoofed_type_is_refused_and_nothing_is_kept(client, company, settings):
    user = company.user()
    r = await _upload(client, user, ("fine.txt", b"ok"), ("report.pdf", b"this is plain text, not a PDF"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("file-type-mismatch") and problem["file"] == "report.pdf"
    assert "named .pdf but the content is text/plain" in problem["detail"]
    r = await _upload(client, user, ("photo.png", _pdf("not a picture")))
    assert r.status_code == 422 and "application/pdf" in r.json()["detail"]
    assert (await client.get("/ai/files", headers=user.headers)).json()["total"] == 0
    assert _blobs(settings.files_root()) == [] and not list((settings.files_root() / ".spool").iterdir())
    # The name is not needed: content decides (a PDF named .bin is a PDF).
    r = await _upload(client, user, ("scan.bin", _pdf("hello")))
    assert r.status_code == 201 and r.json()["items"][0]["media_type"] == "application/pdf"


async def test_bad_bodies_are_422_naming_the_field(client, company):
    user = company.user()
    r = await client.post("/ai/files", json={"file": "x"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "body"
    r = await client.post("/ai/files", data={"note": "no file"}, files={}, headers=user.headers)
    assert r.status_code == 422
    r = await client.post(
        "/ai/files",
        content=b'--xx\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--xx--\r\n',
        headers={**user.headers, "Content-Type": "multipart/form-data; boundary=xx"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "file"


async def test_size_and_count_limits_name_the_limit(settings, company, app_client):
    limited = settings.model_copy(update={"file_max_bytes": 1000, "company_max_files": 2})
    async for client in app_client(limited):
        user = company.user()
        r = await _upload(client, user, ("big.txt", b"x" * 1001))
        assert r.status_code == 413, r.text
        assert r.json()["limit"] == "file_max_bytes" and "AI_FILE_MAX_BYTES" in r.json()["detail"]
        assert (await _upload(client, user, ("a.txt", b"a"), ("b.txt", b"b"))).status_code == 201
        r = await _upload(client, user, ("c.txt", b"c"))
        assert r.status_code == 409 and r.json()["limit"] == "company_max_files"
        assert "AI_COMPANY_MAX_FILES" in r.json()["detail"]
    total = settings.model_copy(update={"company_max_file_bytes": 1500})
    async for client in app_client(total):
        user = company.user()
        assert (await _upload(client, user, ("a.txt", b"a" * 1000))).status_code == 201
        r = await _upload(client, user, ("b.txt", b"b" * 600))
        assert r.status_code == 413 and r.json()["limit"] == "company_max_file_bytes"


async def test_pdf_text_is_extracted_and_summarised_by_the_model(client, company, fake, h):
    user = company.user()
    r = await _upload(client, user, ("report.pdf", _pdf("Short-circuit report. Busbar B2 peak current 42 kA.")))
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert item["media_type"] == "application/pdf" and item["text_chars"] > 30
    fake.queue(h.Reply(text="A short-circuit report: busbar B2 sees 42 kA peak."))
    r = await client.post(f"/ai/files/{item['id']}/analyze", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "summary" and body["summary"].startswith("A short-circuit report")
    assert body["note"] is None and body["usage"]["total_tokens"] > 0
    sent = fake.chat_requests[-1]["messages"][-1]["content"]
    assert "Busbar B2 peak current 42 kA" in sent and "[page 1]" in sent
    # A file without text has nothing to summarise.
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    pic = (await _upload(client, user, ("p.png", png))).json()["items"][0]
    r = await client.post(f"/ai/files/{pic['id']}/analyze", headers=user.headers)
    assert r.status_code == 422 and r.json()["type"].endswith("file-has-no-text")


def _simulation_service(seen: list[httpx.Request]):
    """The simulation service's answers for one inline study, computed by the real solver."""
    runs: dict[str, dict] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/simulations":
            body = json.loads(request.content)
            result = solve_study(parse_circuit(body["document"])).to_result_sets()
            runs["r1"] = {
                "items": [
                    {"fault": rs["fault"], "case": rs["case"], "bus_id": bus, "values": values}
                    for rs in result
                    for bus, values in rs["buses"].items()
                ]
            }
            return httpx.Response(202, json={"id": "r1", "status": "queued"})
        if path == "/simulations/r1":
            return httpx.Response(200, json={"id": "r1", "status": "succeeded"})
        if path == "/simulations/r1/results":
            rows = runs["r1"]["items"]
            return httpx.Response(200, json={"items": rows, "total": len(rows), "page": 1, "page_size": 100})
        return httpx.Response(404, json={"detail": "not found"})

    return handle


async def test_a_circuit_document_is_analysed_and_studied_without_the_model(settings, company, fake, app_client):
    doc = _circuit()
    seen: list[httpx.Request] = []
    async for client in app_client(settings, tool_transport=httpx.MockTransport(_simulation_service(seen))):
        user = company.user()
        packed = gzip.compress(json.dumps(doc).encode())
        r = await _upload(client, user, ("plant.json", json.dumps(doc).encode()), ("plant.json.gz", packed))
        assert r.status_code == 201, r.text
        plain, zipped = r.json()["items"]
        assert zipped["media_type"] == "application/gzip"
        for item in (plain, zipped):
            r = await client.post(f"/ai/files/{item['id']}/analyze", json={}, headers=user.headers)
            assert r.status_code == 200, r.text
            circuit = r.json()["circuit"]
            assert r.json()["kind"] == "circuit" and r.json()["study"] is None
            assert circuit["voltage_levels_kv"] == [13.8, 0.48, 0.208]
            assert circuit["element_counts"] == {"buses": 8, "ext_grids": 1, "lines": 5, "transformers": 2, "motors": 2}
            assert circuit["problems"] == []
        assert fake.chat_requests == []  # no model involved

        r = await client.post(f"/ai/files/{plain['id']}/analyze", json={"study": True}, headers=user.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "project_id"
        project_id = "7d6f1f2e-0000-4000-8000-000000000001"
        r = await client.post(
            f"/ai/files/{plain['id']}/analyze", json={"study": True, "project_id": project_id}, headers=user.headers
        )
        assert r.status_code == 200, r.text
        study = r.json()["study"]
        assert study["status"] == "succeeded" and study["run_id"] == "r1"
        worst = {(g["fault"], g["case"]): g["worst"][0] for g in study["worst_buses"]}
        # The solver's highest initial current of the 3ph max case, at its bus.
        rs = next(
            r for r in solve_study(parse_circuit(doc)).to_result_sets() if (r["fault"], r["case"]) == ("3ph", "max")
        )
        top_bus, top = max(rs["buses"].items(), key=lambda kv: kv[1]["ikss_ka"])
        assert worst[("3ph", "max")]["bus"] == top_bus and worst[("3ph", "max")]["ikss_ka"] == top["ikss_ka"]
        submitted = json.loads(seen[0].content)
        assert submitted["project_id"] == project_id and submitted["document"]["id"] == doc["id"]
        # With the caller's own token.
        token = seen[0].headers["authorization"].removeprefix("Bearer ")
        assert jwt.decode(token, options={"verify_signature": False})["sub"] == str(user.id)
        assert fake.chat_requests == []


async def test_csv_tables_are_a_circuit_document_and_problems_are_listed(client, company):
    user = company.user()
    table = (
        "table,id,title,vn_kv,bus,s_sc_max_mva,rx_max,frequency_hz,faults\n"
        "circuit,csv-demo,Two buses,,,,,,\n"
        "study,,,,,,,50,3ph\n"
        "buses,MV,,20,,,,,\n"
        "buses,LV,,0.4,,,,,\n"
        "ext_grids,G,,,MV,400,0.1,,\n"
    )
    r = await _upload(client, user, ("plant.csv", table.encode()))
    item = r.json()["items"][0]
    assert item["media_type"] == "text/csv"
    r = await client.post(f"/ai/files/{item['id']}/analyze", headers=user.headers)
    assert r.status_code == 200, r.text
    circuit = r.json()["circuit"]
    assert circuit["title"] == "Two buses" and circuit["voltage_levels_kv"] == [20.0, 0.4]
    assert circuit["sources"]["ext_grids"] == 1 and circuit["bus_count"] == 2
    # LV has no path to a source: a validation problem, named.
    assert any("LV" in p["message"] or "LV" in p["path"] for p in circuit["problems"])
    r = await client.post(
        f"/ai/files/{item['id']}/analyze",
        json={"study": True, "project_id": "7d6f1f2e-0000-4000-8000-000000000001"},
        headers=user.headers,
    )
    assert r.status_code == 422 and r.json()["type"].endswith("circuit-invalid")


async def test_attached_files_go_into_the_context_cut_to_the_window_with_a_note(
    settings, company, other_company, fake, app_client, h
):
    async for client in app_client(settings.model_copy(update={"default_context_tokens": 2000})):
        h = type(h)(client)
        user = company.user()
        short = b"Relay settings: I> 400 A, t> 0.5 s.\n"
        long = "".join(f"line {i:05d} of the long log\n" for i in range(2000)).encode()
        items = (await _upload(client, user, ("relay.txt", short), ("log.txt", long))).json()["items"]
        conv = await h.conversation(user)
        r = await client.post(
            f"/ai/conversations/{conv['id']}/messages",
            json={"content": "What do these say?", "file_ids": [f["id"] for f in items]},
            headers=user.headers,
        )
        assert r.status_code == 200, r.text
        sent = fake.chat_requests[-1]["messages"][-1]["content"]
        assert sent.startswith("--- file: relay.txt ---\nRelay settings: I> 400 A") and sent.endswith(
            "What do these say?"
        )
        assert "line 00000 of the long log" in sent and "line 01999" not in sent
        assert (
            f"of {len(long)} of log.txt are included" in sent and "were cut to fit the model's context window" in sent
        )
        # Within the window: (2000 tokens − a quarter for the answer) × 4 characters.
        assert len(sent) < 1500 * 4
        full = (await client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).json()
        attached = full["messages"][0]["attachments"]
        assert [(a["name"], a["cut"]) for a in attached] == [("relay.txt", False), ("log.txt", True)]
        assert full["messages"][0]["content"] == "What do these say?"

        theirs = (await _upload(client, other_company.user(), ("x.txt", b"secret"))).json()["items"][0]
        r = await client.post(
            f"/ai/conversations/{conv['id']}/messages",
            json={"content": "and this?", "file_ids": [theirs["id"]]},
            headers=user.headers,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "file_ids[0]"


def test_sniffing_and_csv_tables_unit():
    from ampflux_ai.domain.file_types import name_mismatch, sniff

    assert sniff(b"%PDF-1.7 ...", "x") == "application/pdf"
    assert sniff(gzip.compress(b"{}"), "x.json.gz") == "application/gzip"
    assert sniff(b'{"a": [1, 2]}', "a.txt") == "application/json"
    assert sniff(b"a;b;c\n1;2;3\n4;5;6\n", "t") == "text/csv"
    assert sniff(b"# Title\n\ntext", "readme.md") == "text/markdown"
    assert sniff(b"\x00\x01\x02binary", "a.txt") == "application/octet-stream"
    assert name_mismatch("data.json", "text/plain") == "named .json but the content is text/plain"
    assert name_mismatch("anything", "application/pdf") is None


async def test_a_file_whose_blob_is_gone_is_a_404_not_a_cut_stream(client, company, settings):
    user = company.user()
    item = (await _upload(client, user, ("a.txt", b"soon gone"))).json()["items"][0]
    for blob in _blobs(settings.files_root()):
        blob.unlink()
    r = await client.get(f"/ai/files/{item['id']}/content", headers=user.headers)
    assert r.status_code == 404 and r.json()["detail"] == "file content not found"


def test_stale_spool_files_are_cleared_and_young_ones_kept(tmp_path):
    import os
    import time

    from ampflux_ai.domain.files import STALE_SPOOL_S, clear_stale_spool, spool_dir

    folder = spool_dir(tmp_path)
    folder.mkdir(parents=True)
    old, young = folder / "upload-old", folder / "upload-young"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    past = time.time() - STALE_SPOOL_S - 60
    os.utime(old, (past, past))
    assert clear_stale_spool(tmp_path) == 1
    assert not old.exists() and young.exists()


async def test_a_blob_used_again_before_its_removal_runs_is_kept(client, company, settings):
    from ampflux_ai.domain.files import remove_blob_if_unused

    user = company.user()
    item = (await _upload(client, user, ("a.txt", b"shared bytes"))).json()["items"][0]
    app = client.app  # type: ignore[attr-defined]
    # A file still uses it: the removal scheduled by an earlier delete leaves it.
    assert await remove_blob_if_unused(app.state.db, app.state.file_store, item["sha256"]) is False
    assert len(_blobs(settings.files_root())) == 1
    assert (await client.delete(f"/ai/files/{item['id']}", headers=user.headers)).status_code == 204
    assert await remove_blob_if_unused(app.state.db, app.state.file_store, item["sha256"]) is True
    assert _blobs(settings.files_root()) == []
