"""The argocd-cm snippet the chart ships is the Lua scripts beside it, under the keys Argo CD reads.

Running the scripts with Argo CD's own code is tests/e2e/test_argocd_health.py; this checks the files only.
"""

from __future__ import annotations

import yaml

from testenv.argocd import ARGOCD_DIR, GROUP, KINDS, PLAN_ACTIONS, SNIPPET, customizations, render_snippet
from testenv.tools import REPO_ROOT, read_versions


def test_the_snippet_is_written_from_the_scripts():
    assert SNIPPET.read_text() == render_snippet(), "run `python -m testenv.argocd` after editing a .lua file"


def test_the_snippet_is_an_argocd_cm_argo_cd_reads():
    document = yaml.safe_load(SNIPPET.read_text())
    assert (document["kind"], document["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert document["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert document["data"] == customizations()
    assert set(document["data"]) == {
        *(f"resource.customizations.health.{GROUP}_{kind}" for kind in KINDS),
        f"resource.customizations.actions.{GROUP}_MigrationPlan"}
    actions = yaml.safe_load(document["data"][f"resource.customizations.actions.{GROUP}_MigrationPlan"])
    assert [d["name"] for d in actions["definitions"]] == list(PLAN_ACTIONS)
    assert "mergeBuiltinActions" not in actions


def test_every_script_is_in_the_snippet_and_none_asks_for_lua_libraries():
    scripts = sorted(p.relative_to(ARGOCD_DIR).as_posix() for p in ARGOCD_DIR.rglob("*.lua"))
    assert scripts == sorted([*(f"health/{kind}.lua" for kind in KINDS), "health/kstatus.lua",
                              "actions/MigrationPlan/discovery.lua",
                              *(f"actions/MigrationPlan/{a}.lua" for a in PLAN_ACTIONS)])
    for script in ARGOCD_DIR.rglob("*.lua"):
        code = "\n".join(line.split("--")[0] for line in script.read_text().splitlines())
        for library in ("string.", "math.", ":find(", ":sub(", ":format(", ":gsub(", ":match("):
            assert library not in code, f"{script.name} uses {library}: Argo CD's sandbox has no string or math"


def test_the_harness_requires_the_argo_cd_version_pinned_in_versions_env():
    """hack/build-tools.sh builds it with ARGOCD_VERSION; its go.mod says the same, so a bump changes both."""
    gomod = (REPO_ROOT / "testenv" / "argocd-health" / "go.mod").read_text()
    assert f"require github.com/argoproj/argo-cd/v3 {read_versions()['ARGOCD_VERSION']}\n" in gomod
