"""The README's first command: the demo runs end to end on its own servers and says it succeeded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from testenv.tools import REPO_ROOT

pytestmark = pytest.mark.realenv


def test_demo_runs_and_checks_itself():
    result = subprocess.run([sys.executable, "-m", "testenv", "demo", "--check"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "pinned starts ran on versions [1, 1, 1, 1, 1], unpinned starts on [2, 2]" in result.stdout
    assert "MigrationPlan customer-onboarding-to-v2: Gating" in result.stdout
    assert "MigrationPlan customer-onboarding-to-v2: Completed" in result.stdout
    assert "versions registered in Conductor now: [2]" in result.stdout
    assert "Create a new version" in result.stdout
    assert "the waiting executions now run on versions [3, 3, 3, 3, 3, 3]" in result.stdout
    assert "MigrationPlan customer-onboarding-waves: Moving: step 1: moving 1 execution(s) to v3" in result.stdout
    assert "moved  [####################] 100% (6/6)" in result.stdout, "kubectl conductor status shows the waves"
    assert "notify_customer ran for ['w-0', 'w-1', 'w-2', 'w-3', 'w-4', 'w-5']" in result.stdout
    assert "MigrationPlan customer-onboarding-waves: Completed" in result.stdout
    assert "Demo succeeded." in result.stdout
