"""The chart's Argo CD health checks and MigrationPlan actions, run by Argo CD's own code.

testenv/argocd-health (built by `hack/build-tools.sh argocd-health` for ARGOCD_VERSION) hands the argocd-cm
ConfigMap to Argo CD's settings manager and runs the scripts with Argo CD's Lua VM, in its sandbox, as the
application controller (health) and the API server (action discovery, running an action, the merge patch it
sends) do. The objects are in tests/fixtures/argocd/: recorded from the real operator in the end-to-end tests
(tests/fixtures/argocd/record.py), a few made by hand and marked so in expected.yaml. When the harness cannot
be built these tests fail: they never skip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from testenv.argocd import GROUP, KINDS, PLAN_ACTIONS, SNIPPET, Harness, customizations, ensure_harness
from testenv.tools import REPO_ROOT
from tests.e2e.conftest import wait_for
from tests.e2e.test_chart import helm, of_kind, render  # noqa: F401 - helm is a fixture
from tests.e2e.test_migration_real import Onboarding, wait_phase

pytestmark = pytest.mark.realenv

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "argocd"
EXPECTED = yaml.safe_load((FIXTURES / "expected.yaml").read_text())
HEALTH = {entry["file"]: entry for entry in EXPECTED["health"]}
ACTIONS = {entry["file"]: entry for entry in EXPECTED["actions"]}
TOKEN = re.compile(r"^\d{8}T\d{6}Z-argocd-(.+)$")


@pytest.fixture(scope="module")
def harness() -> Harness:
    return ensure_harness()


@pytest.fixture(scope="module")
def health(harness) -> dict[str, dict]:
    """Every fixture's health, as Argo CD reads it with the snippet's customizations (one run of the harness)."""
    results = harness.health(SNIPPET, [FIXTURES / name for name in HEALTH])
    return {str(Path(r["object"]).relative_to(FIXTURES)): r for r in results}


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_every_fixture_is_listed_with_its_source():
    on_disk = {p.relative_to(FIXTURES).as_posix() for kind in KINDS for p in (FIXTURES / kind).glob("*.json")}
    assert on_disk == set(HEALTH), "each fixture needs an entry in expected.yaml (and each entry a fixture)"
    assert set(ACTIONS) <= set(HEALTH)
    for name, entry in HEALTH.items():
        assert entry["source"].startswith(("recorded: ", "hand-made: ")), name
        assert load(name)["kind"] == name.split("/")[0]
    recorded = {load(name)["kind"] for name, entry in HEALTH.items() if entry["source"].startswith("recorded: ")}
    assert recorded == set(KINDS), "every kind has objects the real operator wrote"


def test_every_health_status_is_reached_by_an_object_the_operator_wrote():
    statuses = {(load(n)["kind"], e["status"]) for n, e in HEALTH.items() if e["source"].startswith("recorded: ")}
    for kind in KINDS:
        assert {(kind, "Progressing"), (kind, "Healthy"), (kind, "Degraded")} <= statuses, kind
    assert ("MigrationPlan", "Suspended") in statuses


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_health(health, name):
    expected = HEALTH[name]
    result = health[name]
    assert "error" not in result, result.get("error")
    assert result["health"] == {"status": expected["status"], "message": expected["message"]}


def test_a_new_object_is_progressing_until_the_operator_writes_its_status(harness, tmp_path):
    """The CRDs default status to {observedGeneration: -1}: the API server gives it to every new object."""
    for kind in KINDS:
        unobserved = [n for n in HEALTH if n.startswith(f"{kind}/") and
                      (load(n).get("status") or {}).get("observedGeneration", -1) < load(n)["metadata"]["generation"]]
        assert unobserved, f"a {kind} fixture the operator has not observed yet"
        for name in unobserved:
            assert HEALTH[name]["status"] == "Progressing", name


def test_the_sandbox_has_no_string_library_as_in_argo_cd(harness, tmp_path):
    """A check that the harness runs scripts as Argo CD does: without useOpenLibs, no string or math library."""
    script = tmp_path / "health.lua"
    script.write_text('return {status = "Healthy", message = string.format("%d", 1)}\n')
    (fixture,) = [FIXTURES / n for n in sorted(HEALTH) if n.startswith("ConductorCluster/")][:1]
    sandboxed = harness.script(script, [fixture])[0]
    assert "error" in sandboxed and "string" in sandboxed["error"]
    opened = harness.script(script, [fixture], open_libs=True)[0]
    assert opened["health"] == {"status": "Healthy", "message": "1"}
    assert not any(key.startswith("resource.customizations.useOpenLibs") for key in customizations())


def test_a_deletion_waiting_for_running_executions_says_so():
    """gitops-engine shows a script's deletionMessage for an object being deleted instead of its own 'Pending
    deletion; blocked by finalizers': the operator's reason, once it has written it (Reconciling DeletionBlocked)."""
    deleting = {n: load(n) for n in HEALTH if load(n)["metadata"].get("deletionTimestamp")}
    blocked = [n for n, o in deleting.items() if any(c["reason"] == "DeletionBlocked" and c["status"] == "True"
                                                     for c in (o.get("status") or {}).get("conditions") or [])]
    assert blocked, "a fixture of a WorkflowDefinition whose deletion waits"
    for name in deleting:
        assert HEALTH[name]["status"] == "Progressing"
        expected = "waiting to delete" if name in blocked else "Pending deletion; blocked by finalizers: "
        assert HEALTH[name]["message"].startswith(expected), name


# --- resource actions ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offered(harness) -> dict[str, dict]:
    """The actions Argo CD lists for every MigrationPlan fixture (one run of the harness)."""
    results = harness.actions(SNIPPET, [FIXTURES / name for name in sorted(ACTIONS)])
    return dict(zip(sorted(ACTIONS), results, strict=True))


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_actions_offered(offered, name):
    result = offered[name]
    assert "error" not in result, result.get("error")
    actions = {a["name"]: a for a in result["actions"]}
    assert sorted(actions) == sorted(PLAN_ACTIONS)
    assert sorted(n for n, a in actions.items() if not a.get("disabled")) == sorted(ACTIONS[name]["enabled"])
    assert all(a["displayName"] and a["iconClass"].startswith("fa ") for a in actions.values())


def test_no_actions_for_the_other_kinds(harness):
    others = [FIXTURES / n for n in sorted(HEALTH) if not n.startswith("MigrationPlan/")]
    assert all(r["actions"] == [] for r in harness.actions(SNIPPET, others))


def run_action(harness, action: str) -> dict[str, tuple[dict, dict]]:
    """For every MigrationPlan fixture: the merge patch Argo CD sends for the action, and the action's result."""
    names = sorted(ACTIONS)
    results = harness.run(SNIPPET, action, [FIXTURES / name for name in names])
    patches = {}
    for name, result in zip(names, results, strict=True):
        assert "error" not in result, (name, result.get("error"))
        (impacted,) = result["results"]
        assert impacted["operation"] == "patch"
        patches[name] = impacted.get("patch", {}), impacted["object"]  # no patch: nothing to send
    return patches


@pytest.mark.parametrize(("action", "paused"), [("pause", True), ("resume", False)])
def test_pause_and_resume_set_spec_paused_as_the_plugin_does(harness, action, paused):
    for name, (patch, _) in run_action(harness, action).items():
        before = load(name)["spec"].get("paused")
        assert patch == ({} if before is paused else {"spec": {"paused": paused}}), name


@pytest.mark.parametrize("kind", ["promote", "abort", "rollback"])
def test_requests_set_a_fresh_token_as_the_plugin_does(harness, kind):
    for name, (patch, updated) in run_action(harness, kind).items():
        plan = load(name)
        token = patch["spec"]["requests"][kind]
        assert patch == {"spec": {"requests": {kind: token}}}, "nothing but the one request changes"
        assert TOKEN.match(token)[1] == plan["metadata"]["resourceVersion"]
        assert token != ((plan["spec"].get("requests") or {}).get(kind))
        expected = json.loads(json.dumps(plan))
        expected["spec"].setdefault("requests", {})[kind] = token
        assert updated == expected, "Argo CD's cleaned result is the object with the token, nothing else"


# --- the chart ----------------------------------------------------------------------------------


def test_the_chart_renders_the_snippet_only_when_asked(helm, harness, tmp_path):  # noqa: F811 - helm
    assert not [d for d in of_kind(render(helm), "ConfigMap") if d["metadata"]["name"] == "argocd-cm"]
    (configmap,) = [d for d in of_kind(render(helm, "argocd.customizations.enabled=true"), "ConfigMap")
                    if d["metadata"]["name"] == "argocd-cm"]
    snippet = yaml.safe_load(SNIPPET.read_text())
    assert configmap["metadata"]["namespace"] == "argocd"
    assert configmap["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert configmap["data"] == snippet["data"]

    # Argo CD reads the rendered ConfigMap as it reads the snippet.
    rendered = tmp_path / "argocd-cm.yaml"
    rendered.write_text(yaml.safe_dump(configmap))
    objects = [FIXTURES / n for n in sorted(HEALTH)]
    assert [r["health"] for r in harness.health(rendered, objects)] == \
           [r["health"] for r in harness.health(SNIPPET, objects)]

    (moved,) = [d for d in of_kind(render(helm, "argocd.customizations.enabled=true",
                                          "argocd.customizations.namespace=gitops"), "ConfigMap")
                if d["metadata"]["name"] == "argocd-cm"]
    assert moved["metadata"]["namespace"] == "gitops"


def test_the_chart_with_the_snippet_lints_strictly_and_checks_its_values(helm):  # noqa: F811 - helm
    chart = str(REPO_ROOT / "charts" / "conductor-operator")
    result = helm("lint", "--strict", chart, "--set", "argocd.customizations.enabled=true", check=False)
    assert result.returncode == 0 and "0 chart(s) failed" in result.stdout, result.stdout + result.stderr
    for value, message in [("argocd.customizations.enabled=yes", "got string, want boolean"),
                           ("argocd.customizations.namespace=Argo_CD", "does not match pattern"),
                           ("argocd.customisations.enabled=true", "additional properties 'customisations'")]:
        result = helm("template", "demo", chart, "--set", value, check=False)
        assert result.returncode != 0 and message in result.stderr, (value, result.stderr)


def test_merging_the_snippet_into_an_existing_argocd_cm_keeps_its_settings(kubectl, namespace, harness, tmp_path):
    """The README's way in: `kubectl patch configmap argocd-cm --type merge --patch-file argocd-cm.yaml`."""
    kubectl("create", "configmap", "argocd-cm", "-n", namespace, "--from-literal=url=https://argocd.example.com",
            f"--from-literal=resource.customizations.health.{GROUP}_Other=return nil")
    kubectl("label", "configmap", "argocd-cm", "-n", namespace, "app.kubernetes.io/part-of=argocd")
    snippet = yaml.safe_load(SNIPPET.read_text())
    snippet["metadata"]["namespace"] = namespace
    patch = tmp_path / "patch.yaml"
    patch.write_text(yaml.safe_dump(snippet))
    kubectl("patch", "configmap", "argocd-cm", "-n", namespace, "--type", "merge", "--patch-file", str(patch))
    live = yaml.safe_load(kubectl("get", "configmap", "argocd-cm", "-n", namespace, "-o", "yaml").stdout)
    assert live["data"]["url"] == "https://argocd.example.com"
    assert {k: v for k, v in live["data"].items() if k in snippet["data"]} == snippet["data"]
    merged = tmp_path / "argocd-cm.yaml"
    merged.write_text(yaml.safe_dump(live))
    objects = [FIXTURES / n for n in sorted(HEALTH)]
    assert [r["health"] for r in harness.health(merged, objects)] == \
           [r["health"] for r in harness.health(SNIPPET, objects)]


# --- an action's patch on the real operator -------------------------------------------------------------


def test_an_abort_from_argo_cd_is_handled_by_the_operator(resources, cluster, kubectl, namespace, harness, tmp_path):
    """The patch Argo CD sends for `abort`, applied to a live plan as Argo CD applies it (a merge patch): the
    operator acts on its token, and Argo CD then reads the plan as Degraded, with nothing left to offer."""
    flow = Onboarding()
    resources.create("WorkflowDefinition", "v1", flow.v1())
    resources.wait_condition("WorkflowDefinition", "v1", "Ready", timeout=60)
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    resources.create("MigrationPlan", "to-v2", flow.plan())
    wait_phase(resources, "to-v2", "Gating", timeout=120)  # no worker polls: the gates hold it
    live = tmp_path / "live.json"
    live.write_text(kubectl("get", "migrationplan", "to-v2", "-n", namespace, "-o", "json").stdout)
    (health,) = harness.health(SNIPPET, [live])
    assert health["health"]["status"] == "Progressing" and health["health"]["message"].startswith("Gating: ")
    (offered,) = harness.actions(SNIPPET, [live])
    assert sorted(a["name"] for a in offered["actions"] if not a.get("disabled")) == ["abort", "pause"]

    (result,) = harness.run(SNIPPET, "abort", [live])
    (impacted,) = result["results"]
    token = impacted["patch"]["spec"]["requests"]["abort"]
    kubectl("patch", "migrationplan", "to-v2", "-n", namespace, "--type", "merge", "-p", json.dumps(impacted["patch"]))
    handled = wait_for(lambda: ((resources.get("MigrationPlan", "to-v2") or {}).get("status", {})
                                .get("handledRequests") or {}).get("abort"), timeout=90, what="the abort handled")
    assert handled["token"] == token and handled["result"].startswith("aborted in phase Gating")
    resources.wait_condition("MigrationPlan", "to-v2", "Stalled", reason="Aborted", timeout=60)

    live.write_text(kubectl("get", "migrationplan", "to-v2", "-n", namespace, "-o", "json").stdout)
    (health,) = harness.health(SNIPPET, [live])
    assert health["health"]["status"] == "Degraded"
    assert health["health"]["message"].startswith("Aborted: aborted in phase Gating")
    (offered,) = harness.actions(SNIPPET, [live])
    assert [a["name"] for a in offered["actions"] if not a.get("disabled")] == [], "nothing was cut over"
