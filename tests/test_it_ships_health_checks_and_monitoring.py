"""SPEC H5, read from the files (no Docker daemon here): deploy/compose.yaml's health checks use
H1, the app and its workers share the counts' directory, and the optional `monitoring` profile
runs Prometheus scraping /metrics with the token and Grafana with a dashboard provisioned from
deploy/, whose every query names metrics /metrics serves."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import override_settings

from tests.test_it_serves_metrics import SPEC_NAMES

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "timelines.json").read_text())


def health_test(service):
    return " ".join(SERVICES[service]["healthcheck"]["test"])


def test_the_app_is_healthy_when_ready_and_the_proxy_when_it_serves():
    assert "/health/ready" in health_test("app") and "'Host': 'app'" in health_test("app")
    assert "/health/live" in health_test("proxy") and "/127.0.0.1/8080" in health_test("proxy")
    assert "listen 8080;" in (DEPLOY / "nginx.conf").read_text()
    assert SERVICES["proxy"]["ports"] == ["${APP_PORT:-8000}:8080"]


def test_a_worker_is_healthy_when_its_own_processes_beat():
    assert SERVICES["worker"]["healthcheck"]["test"] == ["CMD", "python", "manage.py", "heartbeat"]
    assert (ROOT / "ops" / "management" / "commands" / "heartbeat.py").exists()


def test_the_app_and_the_workers_keep_their_counts_in_one_shared_volume():
    for name in ("app", "worker"):
        service = SERVICES[name]
        directory = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics:{directory}" in service["volumes"]
        assert service["environment"]["METRICS_TOKEN"].startswith("${METRICS_TOKEN")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY ops ./ops" in dockerfile and "chown timelines media metrics" in dockerfile


def test_monitoring_is_an_optional_profile():
    monitoring = {name for name, s in SERVICES.items() if s.get("profiles") == ["monitoring"]}
    assert monitoring == {"prometheus", "grafana"}
    assert all("profiles" not in s for name, s in SERVICES.items() if name not in monitoring)
    assert "ports" not in SERVICES["prometheus"]
    assert all(p.startswith("127.0.0.1:") for p in SERVICES["grafana"]["ports"])


def test_prometheus_scrapes_the_app_with_the_token():
    (job,) = PROMETHEUS["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["app:8000"]
    assert job["authorization"]["type"] == "Bearer"
    (given,) = SERVICES["prometheus"]["configs"]
    assert job["authorization"]["credentials_file"] == given["target"]
    assert COMPOSE["configs"][given["source"]]["content"].startswith("${METRICS_TOKEN")
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in SERVICES["prometheus"]["volumes"]
    assert "METRICS_TOKEN=" in (DEPLOY / "example.env").read_text()


def test_grafana_is_provisioned_from_deploy():
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in SERVICES["grafana"]["volumes"][:2])
    assert mounts == {
        "./grafana/provisioning": "/etc/grafana/provisioning",
        "./grafana/dashboards": "/var/lib/grafana/dashboards",
    }
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "timelines.yaml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]


@pytest.mark.django_db
def test_the_dashboard_queries_only_metrics_the_app_serves_and_shows_every_spec_one(client):
    with override_settings(METRICS_TOKEN="t"):
        text = client.get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    served = set()
    for name, kind in re.findall(r"(?m)^# TYPE (\S+) (\S+)$", text):
        served.add(name)
        if kind == "histogram":
            served |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    queried = set()
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\btimelines_\w+", target["expr"]))
    assert queried <= served, queried - served
    shown = {re.sub(r"_(bucket|count|sum)$", "", name) for name in queried}
    assert SPEC_NAMES <= shown, SPEC_NAMES - shown
