"""The documented configuration matches the code: .env.example and docker-compose.yml."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {
    "GATEWAY_": "ampflux_gateway.config",
    "AUTH_": "ampflux_auth.config",
    "PROJECT_": "ampflux_project.config",
    "SIMULATION_": "ampflux_simulation.config",
    "TRAVELER_": "ampflux_traveler.config",
    "AI_": "ampflux_ai.config",
}


def settings_env_names() -> set[str]:
    names = set()
    for prefix, module in PREFIXES.items():
        for field in importlib.import_module(module).Settings.model_fields:
            names.add(f"{prefix}{field}".upper())
    return names


def test_env_example_is_generated_from_the_settings_classes():
    # The generator's own rendering, in this process: its Settings modules are loaded already,
    # where a subprocess would spend seconds importing every service again.
    spec = importlib.util.spec_from_file_location("gen_env_example", ROOT / "scripts" / "gen_env_example.py")
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    stale = "stale: run scripts/gen_env_example.py"
    assert (ROOT / ".env.example").read_text() == generator.render(), stale


def test_compose_sets_only_settings_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    known = settings_env_names()
    unknown = []
    for name, svc in compose["services"].items():
        for var in svc.get("environment") or {}:
            if var.startswith(tuple(PREFIXES)) and var not in known:
                unknown.append(f"{name}: {var}")
    assert not unknown, f"docker-compose.yml sets variables no Settings class reads: {unknown}"


def test_compose_builds_every_service_from_a_package_that_exists():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if not build:
            continue
        module = build["args"]["MODULE"]
        assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
        assert (ROOT / build["dockerfile"]).exists()


def test_compose_gateway_route_table_is_valid():
    from ampflux_gateway.config import Settings, load_route_table

    table = load_route_table(Settings(routes_file=ROOT / "deploy" / "gateway-routes.json"))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for entry in table.entries:
        for upstream in entry.upstreams:
            host = upstream.split("//", 1)[1].split(":", 1)[0]
            assert host in compose["services"], f"route {entry.prefix} points at unknown host {host}"


def test_kubernetes_manifests_set_only_settings_that_exist():
    known = settings_env_names()
    unknown = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc.get("kind") != "Deployment":
                continue
            pod = doc["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod["containers"]:
                for var in container.get("env", []):
                    if var["name"].startswith(tuple(PREFIXES)) and var["name"] not in known:
                        unknown.append(f"{path.name}/{container['name']}: {var['name']}")
    assert not unknown, unknown
