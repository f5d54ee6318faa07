"""The reconcile shell facing hostile input: definitions nested past the limits, cycles of pinned sub-workflows,
and a ConductorCluster changed while its resources reconcile.

Against the real servers: tests/e2e/test_hostile_definitions_real.py.
"""

from __future__ import annotations

import asyncio
import gc

import httpx
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.domain import definitions as defs
from conductor_operator.reconcile import Runtime

import tests.component.test_reconcile as base
from tests.component.test_reconcile import SETTINGS, Clock, FakeConductor, FakeKube, conditions, workflow_body

# The shared fixtures, with the in-memory Conductor and Kubernetes.
conductor, clock, runtime = base.conductor, base.clock, base.runtime


def deep_text(levels: int) -> str:
    return ('{"tasks":[{"name":"a","taskReferenceName":"a","inputParameters":' + '{"a":' * levels + "1"
            + "}" * levels + "}]}")


async def test_a_config_map_definition_past_the_limit_stalls_naming_it(runtime, conductor):
    runtime.kube.config_maps[("ns", "deep")] = {"workflow.json": deep_text(5000)}
    body = workflow_body("a")
    body["spec"].pop("definition")
    body["spec"]["definitionFrom"] = {"configMapKeyRef": {"name": "deep", "key": "workflow.json"}}
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "NestedTooDeep")
    stalled = next(c for c in outcome.status["conditions"] if c["type"] == "Stalled")
    assert stalled["message"].startswith("the definition in ConfigMap deep key workflow.json nests 5003 JSON levels "
                                         "deep; the limit is 64: flatten it")
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "NestedTooDeep")]
    assert conductor.registrations == 0

    nested = "".join(f'{{"name":"s","taskReferenceName":"s{i}","type":"SWITCH","decisionCases":{{"a":['
                     for i in range(6)) + '{"name":"x","taskReferenceName":"x"}' + "]}}" * 6
    runtime.kube.config_maps[("ns", "deep")] = {"workflow.json": '{"tasks":[' + nested + "]}"}
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    stalled = next(c for c in outcome.status["conditions"] if c["type"] == "Stalled")
    assert "nests tasks 6 levels deep" in stalled["message"] and "the limit is 4" in stalled["message"]


async def test_an_inline_definition_past_the_limit_stalls(runtime, conductor):
    body = workflow_body("a")
    value: dict = {}
    for _ in range(80):
        value = {"a": value}
    body["spec"]["definition"]["tasks"][0]["inputParameters"] = value
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Stalled"] == ("True", "NestedTooDeep")
    assert conductor.registrations == 0


async def test_an_object_cut_as_it_was_read_is_stalled_and_left_alone(runtime):
    body = {"metadata": {"name": "wf", "namespace": "ns", "uid": "u", "generation": 3},
            "spec": {defs.TOO_DEEP_KEY: "spec.definition.tasks[0].inputParameters.a"}}
    outcome = runtime.too_deep(body, body["spec"][defs.TOO_DEEP_KEY])
    assert conditions(outcome)["Stalled"] == ("True", "NestedTooDeep")
    assert outcome.status["observedGeneration"] == 3
    message = next(c for c in outcome.status["conditions"] if c["type"] == "Stalled")["message"]
    assert message.startswith("spec.definition.tasks[0].inputParameters.a is nested deeper than the operator reads "
                              "(100 JSON levels)")


def calling(*children):
    return [{"name": f"call_{n}", "taskReferenceName": f"call_{n}_{v}", "type": "SUB_WORKFLOW",
             "subWorkflowParam": {"name": n, "version": v}} for n, v in children]


async def test_cycles_of_pinned_sub_workflows_are_a_warning(runtime, conductor):
    body = workflow_body("a")
    body["spec"]["definition"]["tasks"] = calling(("order", 1))
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    assert conditions(outcome)["Ready"] == ("True", "Registered"), "a warning, not a refusal"
    assert conditions(outcome)["Warning"] == ("True", "SubWorkflowCycle")
    assert ("Warning", "SubWorkflowCycle") in [(e.type, e.reason) for e in outcome.events]

    conductor.workflows[("billing", 2)] = {"name": "billing", "version": 2, "tasks": calling(("order", 1))}
    body = workflow_body("a")
    body["spec"]["definition"]["tasks"] = calling(("billing", 2), ("missing", 1))
    conductor.workflows.pop(("order", 1))
    outcome = await runtime.reconcile_workflow(body, due_only=False)
    warning = next(c for c in outcome.status["conditions"] if c["type"] == "Warning")
    assert warning["reason"] == "SubWorkflowCycle"
    assert "(order v1 -> billing v2 -> order v1)" in warning["message"]


# ---- a ConductorCluster changed while its resources reconcile ------------------------------------------------

async def test_a_replaced_client_serves_the_reconciles_that_still_use_it():
    """Editing a ConductorCluster replaces its client; a reconcile that began with the old one keeps it to the end
    (it used to be closed under it: "Cannot send a request, as the client has been closed")."""
    kube = FakeKube()
    gate = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/slow"):
            await gate.wait()
        if request.url.path.endswith("/version"):
            return httpx.Response(200, text="3.32.3")
        return httpx.Response(200, json={"name": "order", "version": 1})

    made: list[ConductorClient] = []

    def factory(url, **kwargs):
        kwargs.pop("verify", None)
        made.append(ConductorClient(url, transport=httpx.MockTransport(answer), **kwargs))
        return made[-1]

    shell = Runtime(SETTINGS, kube, clock=Clock(), client_factory=factory)
    old = await shell.client_for("ns", None)

    async def reconcile_in_flight(client: ConductorClient):
        await client._http.get("/slow")  # a request under way while the cluster changes
        return await client.get_workflow_def("order", 1)  # and one more after

    in_flight = asyncio.create_task(reconcile_in_flight(old))
    await asyncio.sleep(0)
    kube.clusters[("ns", "default")]["spec"]["timeouts"] = {"request": "10s"}
    new = await shell.client_for("ns", None)
    assert new is not old and len(made) == 2
    gate.set()
    assert (await in_flight) == {"name": "order", "version": 1}
    http = old._http
    assert not http.is_closed, "still referred to: still open"

    del old, in_flight, made[0]
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    assert http.is_closed, "closed once nothing refers to it"
    await shell.aclose()
    assert new._http.is_closed


async def test_replaced_clients_still_referred_to_are_closed_with_the_runtime():
    kube = FakeKube()
    shell = Runtime(SETTINGS, kube, clock=Clock(), client_factory=lambda url, **k: ConductorClient(
        url, transport=httpx.MockTransport(lambda request: httpx.Response(200, json={}))))
    old = await shell.client_for("ns", None)
    kube.clusters[("ns", "default")]["spec"]["timeouts"] = {"connect": "1s"}
    await shell.client_for("ns", None)
    await shell.aclose()
    assert old._http.is_closed


async def test_fakes_without_connections_are_simply_replaced():
    kube = FakeKube()
    shell = Runtime(SETTINGS, kube, clock=Clock(), client_factory=lambda *a, **k: FakeConductor())
    first = await shell.client_for("ns", None)
    kube.clusters[("ns", "default")]["spec"]["timeouts"] = {"connect": "1s"}
    assert await shell.client_for("ns", None) is not first
