"""The hostile-input corpus (tests/hostile/) against the real API server, the real operator and the real Conductor.

Each file of tests/hostile/ is one case, and tests/hostile/cases.yaml says what must happen to it (the API server
refuses it with a message, or the operator reports it Stalled with a reason and a Warning event). For every case:
nothing of it reaches Conductor, a healthy WorkflowDefinition created after it is Ready within seconds, and the
operator logged no traceback meanwhile.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import PLURALS, events_for, wait_for

CORPUS = Path(__file__).resolve().parents[1] / "hostile"
INDEX = yaml.safe_load((CORPUS / "cases.yaml").read_text())
KINDS = set(PLURALS)
OUTCOMES = {"refused", "stalled", "reconciling"}
WAIT = 30
"""Seconds to wait for the operator (it reacts within one; the machine running the tests may be busy)."""
HEALTHY_WITHIN = 30
MARKER = "poison"
"""The word only the hostile parts of the cases use (task names, descriptions): none of it may reach Conductor."""


def documents(file: str, suffix: str = "SUFFIX", conductor_url: str = "http://conductor:8080") -> list[dict]:
    text = (CORPUS / file).read_text().replace("${SUFFIX}", suffix).replace("${CONDUCTOR_URL}", conductor_url)
    return [d for d in yaml.safe_load_all(text) if d]


def subject_kind(file: str) -> str:
    return documents(file)[-1]["kind"]


# ---- the corpus itself ------------------------------------------------------------------------------

def test_every_file_is_a_case_and_every_case_a_file():
    files = {p.name for p in CORPUS.iterdir()} - {"cases.yaml"}
    assert files == set(INDEX), {"not in cases.yaml": files - set(INDEX), "no such file": set(INDEX) - files}
    for file, outcome in INDEX.items():
        assert file.endswith(".yaml"), file
        assert len(OUTCOMES & set(outcome)) == 1, f"{file}: one of {OUTCOMES}, not {outcome}"
        assert set(outcome) <= OUTCOMES | {"message", "registered"}, f"{file}: {outcome}"
        assert (CORPUS / file).read_text().startswith("# "), f"{file} starts with a comment saying what it is"
        docs = documents(file)
        assert docs[-1]["kind"] in KINDS, f"{file}: the last document is the object under test"
        assert all(d["kind"] in KINDS | {"ConfigMap"} for d in docs), file


def test_the_corpus_covers_every_kind():
    assert len(INDEX) >= 60
    per_kind = {kind: [f for f in INDEX if subject_kind(f) == kind] for kind in KINDS}
    for kind, files in per_kind.items():
        assert len(files) >= 10, f"{kind}: {files}"
        outcomes = {next(iter(OUTCOMES & set(INDEX[f]))) for f in files}
        assert {"refused", "stalled"} <= outcomes, f"{kind} has both refusals and stalls: {outcomes}"


# ---- every case against the real servers ------------------------------------------------------------

def apply(kubectl, namespace: str, document: dict):
    return kubectl("apply", "-n", namespace, "--validate=strict", "-f", "-", input=json.dumps(document), check=False)


def handled(resources, document: dict) -> dict:
    """Wait until the operator has written the status of this generation of a custom resource."""
    kind, name = document["kind"], document["metadata"]["name"]

    def written():
        body = resources.get(kind, name) or {}
        status = body.get("status") or {}
        return body if status.get("conditions") and status.get("observedGeneration") == \
            body["metadata"]["generation"] else None

    return wait_for(written, WAIT, what=f"the operator's status of {kind} {name}")


def in_conductor(conductor_url: str, suffix: str) -> dict[str, str]:
    """What Conductor holds of a case (names holding its suffix), with its content as JSON."""
    found = {}
    workflows = httpx.get(f"{conductor_url}/api/metadata/workflow", timeout=30)
    workflows.raise_for_status()
    for definition in workflows.json():
        if suffix in definition["name"]:
            found[f"workflow {definition['name']} {definition.get('version')}"] = json.dumps(definition)
    tasks = httpx.get(f"{conductor_url}/api/metadata/taskdefs", timeout=30)
    tasks.raise_for_status()
    for definition in tasks.json():
        if suffix in definition["name"]:
            found[f"task {definition['name']}"] = json.dumps(definition)
    return found


@pytest.fixture
def cleaned_up(kubectl, namespace, cluster):
    """After the case, its objects are deleted: the namespace is not (no namespace controller here), and what is
    left over would keep the operator's timers busy for the rest of the session."""
    yield
    kubectl("delete", "-n", namespace, "migrationplans,workflowdefinitions,taskdefinitions", "--all",
            "--timeout=20s", check=False)
    kubectl("delete", "-n", namespace, "conductorclusters", "--all", "--wait=false", check=False)


@pytest.mark.realenv
@pytest.mark.parametrize("file", list(INDEX), ids=[f.removesuffix(".yaml") for f in INDEX])
def test_hostile_case(file, k8s, kubectl, namespace, resources, cluster, cleaned_up, conductor_url, operator):
    suffix = uuid.uuid4().hex[:10]
    expected = json.loads(json.dumps(INDEX[file]).replace("${SUFFIX}", suffix))
    *before, subject = documents(file, suffix, conductor_url)
    kind, name = subject["kind"], subject["metadata"]["name"]
    log_start = len(operator.log_text())

    for document in before:
        result = apply(kubectl, namespace, document)
        assert result.returncode == 0, f"{document['kind']} {document['metadata']['name']}: {result.stderr}"
        if document["kind"] in KINDS:
            handled(resources, document)

    existed = resources.get(kind, name)
    result = apply(kubectl, namespace, subject)
    if "refused" in expected:
        assert result.returncode != 0, f"the API server accepted {file}"
        assert expected["refused"] in result.stderr, result.stderr
        after = resources.get(kind, name)
        if existed is None:
            assert after is None, "a refused object is not stored"
        else:
            assert after["spec"] == existed["spec"], "a refused change leaves the object as it was"
    else:
        assert result.returncode == 0, result.stderr
        type_, reason = ("Stalled", expected["stalled"]) if "stalled" in expected else \
            ("Reconciling", expected["reconciling"])
        condition = resources.wait_condition(kind, name, type_, reason=reason, timeout=WAIT)
        assert expected.get("message", "") in condition["message"], condition
        status = resources.get(kind, name)["status"]
        assert status["observedGeneration"] == resources.get(kind, name)["metadata"]["generation"]
        ready = resources.condition(kind, name, "Ready")
        assert ready["status"] != "True", ready
        if type_ == "Stalled":
            wait_for(lambda: ("Warning", reason) in [e[:2] for e in events_for(k8s, namespace, name)], WAIT,
                     what=f"a Warning {reason} event about {name}")
        else:
            assert resources.condition(kind, name, "Stalled")["status"] == "False"

    registered = in_conductor(conductor_url, suffix)
    wanted = set(expected.get("registered", []))
    assert set(registered) == wanted, "only what the case's setup registered is in Conductor"
    for key, content in registered.items():
        assert MARKER not in content, f"{key} holds the case's hostile content: {content[:2000]}"

    healthy = f"healthy-{suffix}"
    resources.create("WorkflowDefinition", healthy, {
        "name": f"healthy_{suffix}", "version": 1,
        "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
    resources.wait_condition("WorkflowDefinition", healthy, "Ready", timeout=HEALTHY_WITHIN)

    logged = operator.log_text()[log_start:]
    at = logged.find("Traceback")
    assert at < 0, logged[max(0, at - 1500):at + 5000]
    assert not re.search(r"RecursionError|failed with an exception", logged), logged[-5000:]
