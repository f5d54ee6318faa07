"""The image cannot be built here (no Docker engine): check that the Dockerfile says what the docs promise.

These are static checks of the text: pinned installs, a non-root numeric user, the module entrypoint,
and a build context that keeps the virtualenv, tests and git history out but lets in what is copied.
"""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from testenv.tools import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), one list per stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, argument = line.partition(" ")
        if instruction.upper() == "FROM":
            result.append([])
        result[-1].append((instruction.upper(), argument.strip()))
    return result


def test_both_stages_use_python_311_slim():
    assert len(stages()) >= 2, "multi-stage: build tools stay out of the final image"
    assert all(stage[0][1].split()[0] == "python:3.11-slim" for stage in stages())


def test_the_package_is_installed_with_the_pinned_constraints():
    runs = [arg for stage in stages() for instruction, arg in stage if instruction == "RUN" and "pip install" in arg]
    assert runs, "no pip install"
    assert all("-c constraints.txt" in run and "--no-cache-dir" in run and run.split()[-1] == "." for run in runs)
    copied = " ".join(arg for stage in stages() for instruction, arg in stage if instruction == "COPY")
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for needed in ("pyproject.toml", "constraints.txt", pyproject["project"]["readme"], "operator"):
        assert needed in copied, f"{needed} is not copied into the build stage"
    pins = [line for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "constraints.txt pins exact versions"


def test_the_final_stage_runs_the_module_as_a_numeric_non_root_user():
    final = stages()[-1]
    users = [arg for instruction, arg in final if instruction == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root user, so runAsNonRoot can verify it"
    entrypoints = [json.loads(arg) for instruction, arg in final if instruction == "ENTRYPOINT"]
    assert entrypoints[-1] == ["python", "-m", "conductor_operator"]
    assert (REPO_ROOT / "operator" / "conductor_operator" / "__main__.py").exists()

    values = yaml.safe_load((REPO_ROOT / "charts" / "conductor-operator" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid), "the chart runs the image as the same user"


def test_dockerignore_keeps_local_state_out_and_lets_the_sources_in():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "tests", "**/__pycache__", ".pytest_cache"} <= ignored
    assert not ignored & {"operator", "pyproject.toml", "constraints.txt", "README.md", "*"}
