"""Tools the model may call, each acting with the CALLER's own bearer token against the
project and simulation services: they see and change exactly what the caller may, so a tool
cannot reach another company's project (the services answer 404 as they would to the user).

Every failure — a 4xx/5xx from a service, a timeout, bad arguments — is returned to the model
as `{"error": ...}` for it to read and correct; nothing here raises to the user.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ampflux_shared.backoff import Backoff
from ampflux_shared.circuit import validate_circuit

TERMINAL = {"succeeded", "failed", "cancelled"}
WORST_BUSES = 5
# Tool results go back into the model's context: keep them small.
MAX_LIST = 50


class ToolError(Exception):
    pass


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_ID = {"type": "string", "description": "a UUID"}
SPECS = [
    _fn("list_projects", "List the projects the user can see (id, name).", {}, []),
    _fn(
        "summarise_circuit_version",
        "Summarise a circuit version: buses, sources, voltage levels, element counts, validation problems.",
        {"project_id": _ID, "circuit_id": _ID, "version": {"type": "integer", "description": "default: newest"}},
        ["project_id", "circuit_id"],
    ),
    _fn(
        "create_circuit",
        "Save a circuit document (FORMAT.md v1) as a new circuit in a project, or as a new version of an "
        "existing circuit when circuit_id is given. Validation problems come back to be fixed.",
        {
            "project_id": _ID,
            "name": {"type": "string"},
            "circuit_id": _ID,
            "document": {"type": "object", "description": "the circuit document"},
            "message": {"type": "string"},
        },
        ["project_id", "document"],
    ),
    _fn(
        "start_study",
        "Start a short-circuit study of a circuit version and wait for it to finish.",
        {
            "project_id": _ID,
            "circuit_id": _ID,
            "version": {"type": "integer"},
            "options": {"type": "object", "description": "study options (faults, cases...)"},
        },
        ["project_id", "circuit_id"],
    ),
    _fn("read_results", "Read a study's results: the worst buses per fault and case.", {"run_id": _ID}, ["run_id"]),
    _fn(
        "compare_studies",
        "Compare two finished studies (b − a per bus and quantity).",
        {"a": _ID, "b": _ID},
        ["a", "b"],
    ),
    _fn(
        "diff_versions",
        "What changed between two versions of a circuit.",
        {"project_id": _ID, "circuit_id": _ID, "from_version": {"type": "integer"}, "to_version": {"type": "integer"}},
        ["project_id", "circuit_id", "from_version"],
    ),
]


def summarise_document(document: dict[str, Any]) -> dict[str, Any]:
    buses = [b for b in document.get("buses") or [] if isinstance(b, dict)]
    levels = sorted({float(b["vn_kv"]) for b in buses if isinstance(b.get("vn_kv"), int | float)}, reverse=True)
    sources = {k: len(document.get(k) or []) for k in ("ext_grids", "generators", "motors")}
    counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
    problems = validate_circuit(document)
    return {
        "title": document.get("title"),
        "buses": [b.get("id") for b in buses][:MAX_LIST],
        "voltage_levels_kv": levels,
        "sources": sources,
        "element_counts": counts,
        "study": document.get("study"),
        "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in problems][:MAX_LIST],
    }


def worst_buses(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The buses with the highest initial short-circuit current, per fault and case."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results.get("items") or []:
        groups.setdefault((row.get("fault", ""), row.get("case", "")), []).append(row)
    out = []
    for (fault, case), rows in sorted(groups.items()):

        def ikss(row: dict[str, Any]) -> float:
            value = (row.get("values") or {}).get("ikss_ka")
            return float(value) if isinstance(value, int | float) else -1.0

        top = sorted(rows, key=ikss, reverse=True)[:WORST_BUSES]
        out.append(
            {"fault": fault, "case": case, "worst": [{"bus": r.get("bus_id"), **(r.get("values") or {})} for r in top]}
        )
    return out


class Toolbox:
    def __init__(
        self,
        *,
        bearer: str,
        project_url: str,
        simulation_url: str,
        timeout_s: float,
        study_wait_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._headers = {"Authorization": bearer}
        self._project = project_url.rstrip("/")
        self._simulation = simulation_url.rstrip("/")
        self._timeout = timeout_s
        self._study_wait_s = study_wait_s
        self._transport = transport
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "list_projects": self.list_projects,
            "summarise_circuit_version": self.summarise_circuit_version,
            "create_circuit": self.create_circuit,
            "start_study": self.start_study,
            "read_results": self.read_results,
            "compare_studies": self.compare_studies,
            "diff_versions": self.diff_versions,
        }

    def specs(self) -> list[dict[str, Any]]:
        return SPECS

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        handler = self._handlers.get(name)
        if handler is None:
            return False, {"error": f"unknown tool {name!r}; tools: {sorted(self._handlers)}"}
        try:
            return True, await handler(arguments)
        except ToolError as exc:
            return False, {"error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return False, {"error": f"bad arguments for {name}: {exc}"}
        except httpx.HTTPError as exc:
            return False, {"error": f"the platform did not answer: {type(exc).__name__}"}

    async def _request(self, method: str, url: str, **kw: Any) -> Any:
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
            response = await client.request(method, url, headers=self._headers, **kw)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            raise ToolError(
                f"{method} {url.split('//', 1)[-1].split('/', 1)[-1]} answered {response.status_code}: "
                f"{body.get('detail') or body.get('title')}"
                + (f" {body['errors'][:10]}" if isinstance(body, dict) and body.get("errors") else "")
            )
        return response.json() if response.content else None

    async def list_projects(self, args: dict[str, Any]) -> Any:
        page = await self._request("GET", f"{self._project}/projects/", params={"page_size": MAX_LIST})
        return {"total": page["total"], "projects": [{"id": p["id"], "name": p["name"]} for p in page["items"]]}

    async def _version(self, project_id: str, circuit_id: str, version: int | None) -> dict[str, Any]:
        which = "latest" if version is None else str(int(version))
        return await self._request(
            "GET", f"{self._project}/projects/{project_id}/circuits/{circuit_id}/versions/{which}"
        )

    async def summarise_circuit_version(self, args: dict[str, Any]) -> Any:
        version = await self._version(str(args["project_id"]), str(args["circuit_id"]), args.get("version"))
        return {"version": version.get("number"), **summarise_document(version.get("document") or {})}

    async def create_circuit(self, args: dict[str, Any]) -> Any:
        document = args["document"]
        if not isinstance(document, dict):
            raise ToolError("document must be a JSON object (FORMAT.md v1)")
        # Checked here first: the model gets every problem at once, with paths, to repair.
        problems = validate_circuit(document)
        if problems:
            raise ToolError(
                "the document is not valid; fix these and call create_circuit again: "
                + "; ".join(f"{p.path or '(document)'}: {p.message}" for p in problems[:20])
            )
        project_id = str(args["project_id"])
        message = str(args.get("message") or "created by the AmpFlux assistant")
        if args.get("circuit_id"):
            circuit_id = str(args["circuit_id"])
            saved = await self._request(
                "POST",
                f"{self._project}/projects/{project_id}/circuits/{circuit_id}/versions",
                json={"document": document, "message": message},
            )
            return {"project_id": project_id, "circuit_id": circuit_id, "version": saved.get("number")}
        name = str(args.get("name") or document.get("title") or document.get("id") or "Assistant circuit")[:200]
        created = await self._request(
            "POST",
            f"{self._project}/projects/{project_id}/circuits/",
            json={"name": name, "document": document, "message": message},
        )
        return {
            "project_id": project_id,
            "circuit_id": created["id"],
            "name": created["name"],
            "version": (created.get("version") or {}).get("number"),
        }

    async def start_study(self, args: dict[str, Any]) -> Any:
        body: dict[str, Any] = {"circuit_id": str(args["circuit_id"]), "options": args.get("options") or {}}
        if args.get("version") is not None:
            body["version"] = int(args["version"])
        run = await self._request("POST", f"{self._simulation}/circuits/{args['project_id']}/simulate", json=body)
        out = await self.wait_for_run(run)
        if out["status"] == "succeeded":
            out["results"] = await self.read_results({"run_id": out["run_id"]})
        return out

    async def wait_for_run(self, run: dict[str, Any]) -> dict[str, Any]:
        """Poll a submitted run until it ends or the study wait runs out: `{run_id, status}`,
        with `error` if it failed or a `note` if it is still running."""
        run_id = run["id"]
        deadline = time.monotonic() + self._study_wait_s
        backoff = Backoff(base_s=0.1, max_s=2.0, jitter=False)
        attempt = 0
        while run.get("status") not in TERMINAL:
            if time.monotonic() >= deadline:
                return {"run_id": run_id, "status": run.get("status"), "note": "still running; read_results later"}
            attempt += 1
            await asyncio.sleep(min(backoff.delay(attempt), max(0.0, deadline - time.monotonic())))
            run = await self._request("GET", f"{self._simulation}/simulations/{run_id}")
        out: dict[str, Any] = {"run_id": run_id, "status": run["status"]}
        if run["status"] != "succeeded":
            out["error"] = run.get("error") or run.get("error_detail")
        return out

    async def read_results(self, args: dict[str, Any]) -> Any:
        run_id = str(args["run_id"])
        results = await self._request(
            "GET", f"{self._simulation}/simulations/{run_id}/results", params={"page_size": 100}
        )
        return {"run_id": run_id, "total_rows": results.get("total"), "worst_buses": worst_buses(results)}

    async def compare_studies(self, args: dict[str, Any]) -> Any:
        page = await self._request(
            "GET",
            f"{self._simulation}/simulations/compare",
            params={"a": str(args["a"]), "b": str(args["b"]), "page_size": MAX_LIST},
        )
        return {"total": page.get("total"), "rows": (page.get("items") or [])[:MAX_LIST]}

    async def diff_versions(self, args: dict[str, Any]) -> Any:
        params: dict[str, Any] = {"from": int(args["from_version"])}
        if args.get("to_version") is not None:
            params["to"] = int(args["to_version"])
        return await self._request(
            "GET", f"{self._project}/projects/{args['project_id']}/circuits/{args['circuit_id']}/diff", params=params
        )
