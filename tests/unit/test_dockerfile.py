"""The image cannot be built here (no Docker engine): check the Dockerfile says what the docs promise."""

from testenv.tools import REPO_ROOT


def test_dockerfile_installs_pinned_and_runs_the_module_as_non_root():
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in text
    assert "USER 65532" in text
    assert 'ENTRYPOINT ["python", "-m", "conductor_operator"]' in text
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)
