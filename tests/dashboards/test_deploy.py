"""deploy/: the files parse and agree with the code (data source UIDs, index aliases, roles, ports).

Structural checks with PyYAML only: full compose-spec / Kubernetes schema validation and PromQL
parsing need dev dependencies (compose-spec, kubernetes-validate, promql-parser) not yet in the venv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from yujing.dashboards import fields
from yujing.search.mapping import ALERTS_ALIAS, POSTS_ALIAS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROLES = ("scorer", "indexer", "alerter")


def _load(rel: str) -> Any:
    return yaml.safe_load((DEPLOY / rel).read_text(encoding="utf-8"))


def test_datasources_provide_the_uids_and_aliases_the_dashboards_use() -> None:
    ds = {d["uid"]: d for d in _load("grafana/provisioning/datasources/yujing.yaml")["datasources"]}
    assert ds[fields.POSTS_DS_UID]["jsonData"] == {"index": POSTS_ALIAS, "timeField": "ts"}
    assert ds[fields.ALERTS_DS_UID]["jsonData"] == {"index": ALERTS_ALIAS, "timeField": "ts"}
    assert ds[fields.PROMETHEUS_DS_UID]["type"] == "prometheus"


def test_dashboard_provider_path_is_where_compose_mounts_the_generated_dashboards() -> None:
    (provider,) = _load("grafana/provisioning/dashboards/yujing.yaml")["providers"]
    compose = _load("compose.yaml")
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in compose["services"]["grafana"]["volumes"])
    host = {target: source for source, target in mounts.items()}[provider["options"]["path"]]
    generated = (DEPLOY / host).resolve()
    assert sorted(p.name for p in generated.glob("*.json")) == ["pipeline.json", "situation.json"]
    assert provider["folderUid"] == fields.FOLDER_UID


def test_compose_runs_every_role_with_health_checks_and_env_config() -> None:
    services = _load("compose.yaml")["services"]
    assert {"kafka", "elasticsearch", "grafana", "prometheus", "api", *ROLES} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for role in (*ROLES, "api"):
        svc = services[role]
        assert "healthcheck" in svc and svc["environment"]["YUJING_BUS"].startswith("kafka://")
        assert svc["environment"]["YUJING_STORE"].startswith("elasticsearch://")
    for role in ROLES:
        assert services[role]["command"] == ["run", "--role", role]
    assert (DEPLOY / services["api"]["build"]["context"] / services["api"]["build"]["dockerfile"]).is_file()


def test_prometheus_scrapes_the_api_and_every_worker_role() -> None:
    jobs = {j["job_name"]: j for j in _load("prometheus.yml")["scrape_configs"]}
    assert jobs["yujing-api"]["static_configs"][0]["targets"] == ["api:8765"]
    (sd,) = jobs["yujing-workers"]["dns_sd_configs"]
    assert set(sd["names"]) == set(ROLES) and sd["port"] == 9100


def test_kubernetes_deployments_have_probes_and_the_hpa_targets_the_scorers() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "yujing.yaml").read_text(encoding="utf-8")) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", f"yujing-{r}") for r in (*ROLES, "api")} <= kinds
    for d in docs:
        if d["kind"] == "Deployment":
            assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            (c,) = d["spec"]["template"]["spec"]["containers"]
            assert "readinessProbe" in c and "livenessProbe" in c
            assert {"configMapRef", "secretRef"} == {k for e in c["envFrom"] for k in e}
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert ("Deployment", hpa["spec"]["scaleTargetRef"]["name"]) in kinds
    assert hpa["spec"]["scaleTargetRef"]["name"] == "yujing-scorer"
