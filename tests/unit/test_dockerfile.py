"""Static checks of the Dockerfile's text: what the docs promise, checked without a Docker engine.

Pinned installs into a virtualenv, a base pinned by digest that a build argument can replace, a final stage
with no build step, a non-root numeric user, the module entrypoint, and a build context that keeps the
virtualenv, tests and git history out but lets in what is copied. tests/e2e/test_image.py builds and runs it.
"""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from testenv.tools import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, argument = line.partition(" ")
            result.append((instruction.upper(), argument.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage (from its FROM on); the global ARGs before the first FROM are left out."""
    result: list[list[tuple[str, str]]] = []
    for instruction, argument in instructions():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, argument))
    return result


def global_args() -> dict[str, str]:
    args = {}
    for instruction, argument in instructions():
        if instruction == "FROM":
            break
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            args[name] = default
    return args


def test_both_stages_use_the_base_image_argument_whose_default_is_the_official_python_pinned_by_digest():
    assert len(stages()) >= 2, "multi-stage: build tools stay out of the final image"
    assert all(stage[0][1].split()[0] == "${BASE_IMAGE}" for stage in stages()), \
        "every stage on the same base: the virtualenv points at the base's Python"
    default = global_args()["BASE_IMAGE"]
    assert re.fullmatch(r"python:3\.11-slim(-bookworm)?@sha256:[0-9a-f]{64}", default), \
        f"the default base is the official image, pinned by digest: {default}"


def test_the_final_stage_only_copies_the_virtualenv():
    build, final = stages()[0], stages()[-1]
    assert any(i == "RUN" and "python3 -m venv /opt/venv" in a for i, a in build)
    assert not [a for i, a in final if i == "RUN"], "no build step (and no build tool) in the final stage"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final
    path = next(a for i, a in final if i == "ENV" and a.startswith("PATH="))
    assert path.startswith("PATH=/opt/venv/bin:"), "python is the virtualenv's"
    uninstall = [a for i, a in build if i == "RUN" and "pip uninstall" in a]
    assert uninstall and {"pip", "setuptools"} <= set(uninstall[0].split()), "pip leaves the virtualenv"


def test_the_package_is_installed_with_the_pinned_constraints():
    runs = [arg for stage in stages() for instruction, arg in stage if instruction == "RUN" and "pip install" in arg]
    installs = [command.strip() for run in runs for command in run.split("&&") if "pip install" in command]
    assert installs, "no pip install"
    assert all("-c constraints.txt" in run and "--no-cache-dir" in run for run in installs)
    assert all(run.startswith("/opt/venv/bin/pip install") for run in installs), "into the virtualenv, not --prefix"
    assert installs[-1].split()[-1] == ".", "the package itself, last"
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
