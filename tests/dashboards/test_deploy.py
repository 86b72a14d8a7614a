"""deploy/: the files are valid for the tools that read them, and agree with the code.

- compose.yaml: parsed and validated by compose-spec (the Rust compose_spec crate: every key, type,
  duration, port, restart policy, depends_on condition, volume syntax), plus cross-references the
  spec library leaves to ``docker compose`` (depends_on targets and named volumes exist).
- k8s/*.yaml: every document validated by kubernetes-validate in strict mode (unknown fields are
  errors) against the OpenAPI schemas of Kubernetes K8S_VERSIONS.
- prometheus/rules/*.yml: every expr parsed by promql-parser and checked against exported metrics.
- Dockerfile: its torch pin is pyproject's.
Each validator is shown rejecting a broken variant of the real file, so none of these can pass vacuously.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import compose_spec
import kubernetes_validate
import pytest
import yaml

from yujing.dashboards import fields, generate, validate
from yujing.search.mapping import ALERTS_ALIAS, SIGNALS_ALIAS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROLES = ("scorer", "indexer", "alerter")
# Upstream supports the three newest minors; in late 2026 that is 1.35..1.37, and 1.37 is the newest
# schema kubernetes-validate 1.37.0 ships. The manifests use only GA APIs (apps/v1, autoscaling/v2).
K8S_VERSIONS = ("1.35", "1.37")


def _load(rel: str) -> Any:
    return yaml.safe_load((DEPLOY / rel).read_text(encoding="utf-8"))


def test_datasources_provide_the_uids_and_aliases_the_dashboards_use() -> None:
    ds = {d["uid"]: d for d in _load("grafana/provisioning/datasources/yujing.yaml")["datasources"]}
    assert ds[fields.SIGNALS_DS_UID]["jsonData"] == {"index": SIGNALS_ALIAS, "timeField": "ts"}
    indexes = {d["jsonData"].get("index") for d in ds.values() if d["type"] == "elasticsearch"}
    assert indexes == {SIGNALS_ALIAS, ALERTS_ALIAS}  # Grafana is given no index with post texts
    assert ds[fields.ALERTS_DS_UID]["jsonData"] == {"index": ALERTS_ALIAS, "timeField": "ts"}
    assert ds[fields.PROMETHEUS_DS_UID]["type"] == "prometheus"


def test_both_grafanas_provide_the_infinity_source_the_embedded_board_reads() -> None:
    board = json.loads((generate.GENERATED_DIR / generate.EMBEDDED).read_text(encoding="utf-8"))
    used = {t["datasource"]["uid"] for p in validate.iter_panels(board) for t in p.get("targets", [])}
    assert used == {fields.SITUATION_API_DS_UID}
    compose = _load("compose.yaml")["services"]
    for rel, url in (("grafana/provisioning/datasources/yujing.yaml", "http://api:8765"),
                     ("grafana/embedded/datasources/yujing.yaml", "$YUJING_API_URL")):
        ds = {d["uid"]: d for d in _load(rel)["datasources"]}[fields.SITUATION_API_DS_UID]
        assert ds["type"] == validate.INFINITY_TYPE and ds["url"] == url
        assert ds["jsonData"]["allowedHosts"] == [url]  # Infinity refuses hosts not listed
    assert validate.INFINITY_TYPE in compose["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    assert compose["api"]["ports"] == ["8765:8765"]
    # the embedded Grafana is provisioned with the Infinity board alone
    (provider,) = _load("grafana/embedded/dashboards/yujing.yaml")["providers"]
    assert provider["options"]["path"].endswith("yujing-embedded") and provider["folderUid"] == fields.FOLDER_UID
    assert [p.name for p in (generate.GENERATED_DIR / "embedded").glob("*.json")] == ["situation-embedded.json"]


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
    jobs = {j["job_name"]: j for j in _load("prometheus/prometheus.yml")["scrape_configs"]}
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


# --- compose-spec ---------------------------------------------------------------------------------


def compose_problems(text: str) -> list[str]:
    """Why ``docker compose`` would refuse this file (empty: it would not)."""
    try:
        # the file uses YAML merge keys (<<: *yujing), which compose resolves before validating
        project = compose_spec.PyOptions(apply_merge=True).from_yaml(text)
        project.validate()
        spec = project.to_dict()
    except ValueError as exc:
        return [f"compose-spec: {exc}"]
    services = spec.get("services") or {}
    volumes = set(spec.get("volumes") or {})
    out = []
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        out += [f"service {name!r} depends on unknown service {d!r}" for d in deps if d not in services]
        for mount in svc.get("volumes") or []:
            source = mount.get("source", "") if isinstance(mount, dict) else str(mount).split(":", 1)[0]
            if source and not source.startswith((".", "/", "~")) and source not in volumes:
                out.append(f"service {name!r} mounts undeclared volume {source!r}")
    return out


def test_compose_file_is_valid_compose_spec() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert compose_problems(text) == []
    project = compose_spec.PyOptions(apply_merge=True).from_yaml(text)
    assert set(project.service_names()) >= {"kafka", "elasticsearch", "grafana", "prometheus", "api", *ROLES}
    project.to_spec()  # and the pydantic model of the spec accepts it


@pytest.mark.parametrize(("broken", "fixed", "why"), [
    ("condition: service_healthy", "condition: healthy", "unknown variant `healthy`"),
    ("restart: unless-stopped", "restart: sometimes", "unknown variant `sometimes`"),
    ("interval: 15s", "interval: soon", "duration `soon`"),
    ('ports: ["8765:8765"]', 'ports: ["api:8765"]', "port"),
    ("image: yujing:local", "imag: yujing:local", "imag"),
    ("elasticsearch: {condition: service_healthy}", "opensearch: {condition: service_healthy}",
     "unknown service 'opensearch'"),
    ("volumes: [es-data:/usr/share", "volumes: [esdata:/usr/share", "undeclared volume 'esdata'"),
])
def test_compose_validation_rejects_broken_variants(broken: str, fixed: str, why: str) -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert broken in text
    found = compose_problems(text.replace(broken, fixed, 1))
    assert any(why in line for line in found), found


# --- kubernetes-validate --------------------------------------------------------------------------


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        out += [(path.name, d) for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return out


def k8s_problems(doc: dict[str, Any], version: str) -> list[str]:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:  # a typo'd kind or apiVersion
        return [f"{doc.get('kind')}: {exc.message}"]
    return []


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_validate_strictly(version: str) -> None:
    docs = _manifests()
    assert {d["kind"] for _, d in docs} >= {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    assert [p for _, d in docs for p in k8s_problems(d, version)] == []


def test_kubernetes_validation_rejects_broken_variants() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in _manifests()}
    version = K8S_VERSIONS[0]
    scorer = copy.deepcopy(docs[("Deployment", "yujing-scorer")])
    container = scorer["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")  # unknown field: strict mode catches typos
    assert any("readinesProbe" in p for p in k8s_problems(scorer, version))
    api = copy.deepcopy(docs[("Deployment", "yujing-api")])
    api["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8765"
    assert any("containerPort" in p for p in k8s_problems(api, version))
    hpa = copy.deepcopy(docs[("HorizontalPodAutoscaler", "yujing-scorer")])
    hpa["apiVersion"] = "autoscaling/v2beta2"  # removed in 1.26
    assert k8s_problems(hpa, version) != []


# --- Prometheus rules -----------------------------------------------------------------------------


def _rule_files() -> list[Any]:
    return sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))


def test_prometheus_loads_the_rules_and_every_rule_expr_is_valid_promql_on_exported_metrics() -> None:
    config = _load("prometheus/prometheus.yml")
    compose = _load("compose.yaml")
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1)[::-1] for v in compose["services"]["prometheus"]["volumes"])
    (pattern,) = config["rule_files"]
    assert (DEPLOY / mounts[pattern.rsplit("/", 1)[0]]).resolve() == (DEPLOY / "prometheus" / "rules").resolve()
    files = _rule_files()
    assert files
    for path in files:
        rules = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert sum(len(g["rules"]) for g in rules["groups"]) >= 5
        assert validate.rule_problems(rules) == [], path.name


def test_rule_validation_rejects_broken_variants() -> None:
    rules = yaml.safe_load(_rule_files()[0].read_text(encoding="utf-8"))
    broken = copy.deepcopy(rules)
    first = broken["groups"][0]["rules"]
    first[0]["expr"] = "sum(rate(yujing_dead_letters_total[5m])"  # unclosed parenthesis
    first[1]["expr"] = "rate(yujing_consumer_lag)"  # rate over an instant vector
    first[2]["expr"] = "sum by (colour) (yujing_dead_letters_total)"  # a label no series carries
    first[3]["expr"] = "yujing_scoring_second_bucket > 1"  # a metric nobody exports
    first[4]["for"] = "ten minutes"
    found = validate.rule_problems(broken)
    assert any("does not parse (unclosed left parenthesis)" in line for line in found), found
    assert any("expected type matrix" in line for line in found), found
    assert any("label 'colour'" in line for line in found), found
    assert any("'yujing_scoring_second_bucket' is not exported" in line for line in found), found
    assert any("'ten minutes' is not a Prometheus duration" in line for line in found), found


# --- Dockerfile -----------------------------------------------------------------------------------


def test_the_image_installs_pyprojects_torch_pin_from_the_cpu_index() -> None:
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8"))
    pins = dict(d.split("==", 1) for d in pyproject["project"]["dependencies"] if "==" in d)
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    installed = dict(re.findall(r"\b([A-Za-z][\w.-]*)==([\w.!+]+)", dockerfile))
    assert installed == {"torch": pins["torch"]}, "pin in the Dockerfile differs from pyproject.toml"
    assert "--index-url https://download.pytorch.org/whl/cpu torch==" in dockerfile
    assert re.search(r"^RUN pip install \. ", dockerfile, re.M)  # everything else from pyproject
