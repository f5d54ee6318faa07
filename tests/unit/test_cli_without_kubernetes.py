"""kubectl-conductor installed without its `cli` extra (no Kubernetes client): the commands that work on files alone
still work, and those that talk to a cluster say in one line what to install, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conductor_operator.cli.main import NEEDS_KUBERNETES, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "diff"
OLD, NEW = str(EXAMPLES / "order-v1.json"), str(EXAMPLES / "order-v2-safe.json")
WITHOUT_CLIENT = "import sys; sys.modules['kubernetes'] = sys.modules['urllib3'] = None; "


@pytest.fixture
def without_client(monkeypatch):
    """Every module of the client unimportable, as if it were not installed."""
    client = ("kubernetes", "urllib3")
    for name in {*client, *(name for name in sys.modules if name.partition(".")[0] in client)}:
        monkeypatch.setitem(sys.modules, name, None)


def test_the_plugin_loads_and_diffs_files_without_the_client():
    script = f"{WITHOUT_CLIENT}from conductor_operator.cli.main import main; sys.exit(main(['diff', {OLD!r}, {NEW!r}]))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("SAFE: order_fulfillment v1 -> order_fulfillment v2")


@pytest.mark.parametrize("argv", [
    ["status", "orders-to-v2"],
    ["pause", "orders-to-v2"],
    ["abort", "orders-to-v2", "--yes"],
    ["dashboard"],
    ["plan", OLD, NEW, "--from-cluster"],
])
def test_a_command_that_needs_the_cluster_says_what_to_install(without_client, capsys, argv):
    assert main(argv) == 2
    assert capsys.readouterr() == ("", f"kubectl-conductor: error: {NEEDS_KUBERNETES}\n")


def test_a_diff_reading_a_config_map_from_the_cluster_says_what_to_install(without_client, capsys, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text("apiVersion: conductor-operator.io/v1alpha1\nkind: WorkflowDefinition\nmetadata: {name: order-v2}\n"
                   "spec: {name: order, version: 2, definitionFrom: {configMapKeyRef: {name: order-v2, key: wf}}}\n")
    assert main(["diff", OLD, str(new), "--from-cluster"]) == 2
    assert capsys.readouterr() == ("", "kubectl-conductor: error: the kubectl plugin needs the Kubernetes client: "
                                       "pip install 'conductor-operator[cli]'\n")


def test_what_needs_no_cluster_works_without_the_client(without_client, capsys):
    assert main(["diff", OLD, NEW]) == 0
    assert main(["pause", "orders-to-v2", "--print-only"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "paused: true" in out
