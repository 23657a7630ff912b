"""deploy/ is true to the code: every YAML parses, Kubernetes objects are named, and the alert
rules and the dashboard only query metrics the services really export.

The metric names come from each service's `/metrics`, scraped from the app built in-process
in its embedded mode (SQLite, in-process bus), so a renamed or removed metric fails here
instead of leaving an alert that can never fire.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("auth", "project", "simulation", "traveler", "ai", "gateway")
# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "inf", "nan",
}  # fmt: skip


def yaml_files() -> Iterator[Path]:
    yield ROOT / "docker-compose.yml"
    for pattern in ("*.yml", "*.yaml"):
        yield from DEPLOY.rglob(pattern)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords, labels and ranges left out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = match.group(0)
        if e[match.end() :].lstrip().startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "ampflux.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def exported_names(exposition: str) -> set[str]:
    """Series names a scrape of this exposition yields (a histogram's _bucket/_count/_sum)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return names


@pytest.fixture(scope="module")
async def registered_metrics(tmp_path_factory) -> set[str]:
    names = set(PROMETHEUS_OWN)
    for service in SERVICES:
        config = importlib.import_module(f"ampflux_{service}.config")
        main = importlib.import_module(f"ampflux_{service}.main")
        settings = config.Settings(_env_file=None, data_dir=tmp_path_factory.mktemp(service))
        app = main.create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/metrics")
        assert response.status_code == 200, service
        names |= exported_names(response.text)
    return names


def test_every_yaml_in_deploy_parses_and_kubernetes_objects_are_named():
    checked = 0
    for path in yaml_files():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path}: empty"
        if "k8s" not in path.parts:
            continue
        for doc in docs:
            where = f"{path.relative_to(ROOT)}: {doc.get('kind')}"
            assert doc.get("apiVersion") and doc.get("kind"), where
            if doc["kind"] != "Kustomization":  # a kustomize file, not an object in the cluster
                assert doc.get("metadata", {}).get("name"), f"{where} has no metadata.name"
            checked += 1
    assert checked >= 10


def test_the_promql_name_extraction_reads_what_the_rules_write():
    expr = (
        'sum by (job) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))'
        " / ignoring(x) max(ampflux_x) > 0.05 and on() up == 0"
    )
    assert promql_metric_names(expr) == {"http_server_request_duration_seconds_count", "ampflux_x", "up"}


def test_the_alert_rules_cover_the_failures_issue_9_names():
    rules = alert_rules()
    assert all(r.get("alert") and r.get("expr") and r.get("labels", {}).get("severity") for r in rules)
    used = set().union(*(promql_metric_names(r["expr"]) for r in rules))
    for needed in (
        "ampflux_events_dead_letter_depth",  # DLQ depth
        "ampflux_outbox_oldest_pending_age_seconds",  # outbox backlog age
        "http_server_request_duration_seconds_count",  # 5xx rate
        "ampflux_simulation_oldest_heartbeat_age_seconds",  # worker heartbeat
        "ampflux_gateway_upstream_healthy",  # upstream down
    ):
        assert needed in used, needed


async def test_alerts_and_dashboard_query_only_metrics_the_services_export(registered_metrics):
    queried = {(r["alert"], name) for r in alert_rules() for name in promql_metric_names(r["expr"])}
    queried |= {("dashboard", name) for expr in dashboard_exprs() for name in promql_metric_names(expr)}
    unknown = sorted((where, name) for where, name in queried if name not in registered_metrics)
    assert not unknown, f"queries of metrics no service exports: {unknown}"
    assert len({name for _, name in queried}) >= 15


def test_prometheus_loads_the_rules_and_compose_mounts_them_with_grafana():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["rule_files"] == ["prometheus-alerts.yml"]  # relative to prometheus.yml
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus-alerts.yml"] == "./deploy/prometheus-alerts.yml"
    grafana = {v.split(":")[1]: v.split(":")[0] for v in compose["grafana"]["volumes"]}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/ampflux.yaml").read_text())
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert grafana[f"{dashboards_dir}/ampflux.json"] == "./deploy/grafana/ampflux.json"
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    panels = json.loads((DEPLOY / "grafana/ampflux.json").read_text())["panels"]
    uids = {panel["datasource"]["uid"] for panel in panels if "datasource" in panel}
    assert uids == {datasource["datasources"][0]["uid"]}


def test_keda_scales_the_worker_deployment_on_the_job_queue_outside_the_base():
    from ampflux_simulation.config import Settings

    scaled, auth = yaml.safe_load_all((DEPLOY / "k8s" / "simulation-keda.yaml").read_text())
    assert scaled["kind"] == "ScaledObject" and auth["kind"] == "TriggerAuthentication"
    workers = [
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "simulation.yaml").read_text())
        if d["kind"] == "Deployment" and d["metadata"]["name"] == scaled["spec"]["scaleTargetRef"]["name"]
    ]
    assert workers and "ampflux_simulation.worker" in workers[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    (trigger,) = scaled["spec"]["triggers"]
    assert (
        trigger["type"] == "rabbitmq"
        and trigger["metadata"]["queueName"] == Settings.model_fields["jobs_queue"].default
    )
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    # It needs KEDA's CRDs: not in the base kustomization, which stays appliable anywhere.
    base = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert "simulation-keda.yaml" not in base["resources"]
    overlay = yaml.safe_load((DEPLOY / "k8s" / "overlays" / "keda" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../.."] and "HorizontalPodAutoscaler" in overlay["patches"][0]["patch"]
