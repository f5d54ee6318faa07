"""The krew manifest of `kubectl conductor`: the fields krew requires, in step with the package it ships."""

from __future__ import annotations

import re
import tomllib

import yaml

from testenv.tools import REPO_ROOT

MANIFEST = REPO_ROOT / "plugins" / "krew" / "conductor.yaml"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_manifest_has_the_fields_krew_requires():
    plugin = manifest()
    assert plugin["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert plugin["kind"] == "Plugin"
    assert plugin["metadata"]["name"] == "conductor", "`kubectl conductor`: the plugin's name is the command's"
    spec = plugin["spec"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", spec["version"]), "krew wants a semantic version with a leading v"
    assert spec["shortDescription"] and len(spec["shortDescription"]) <= 60 and "\n" not in spec["shortDescription"]
    assert spec["description"].strip() and spec["homepage"].startswith("https://")
    assert spec["platforms"]
    for platform in spec["platforms"]:
        assert set(platform) >= {"selector", "uri", "sha256", "bin"}
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
        assert platform["uri"].startswith("https://") and platform["uri"].endswith(".tar.gz")
        labels = platform["selector"]["matchLabels"]
        assert labels["os"] in {"linux", "darwin", "windows"} and labels["arch"] in {"amd64", "arm64"}
        assert f"-{labels['os']}-{labels['arch']}." in platform["uri"], "each platform names its own archive"
        assert spec["version"] in platform["uri"], "the archive of this version"
        assert any(f["from"] == platform["bin"] for f in platform["files"]), "the binary is copied out"
    selectors = [tuple(sorted(p["selector"]["matchLabels"].items())) for p in spec["platforms"]]
    assert len(selectors) == len(set(selectors)), "one archive per platform"


def test_the_manifest_ships_the_packages_console_script_at_its_version():
    spec = manifest()["spec"]
    assert spec["version"] == f"v{PYPROJECT['project']['version']}"
    assert {p["bin"] for p in spec["platforms"]} == {"kubectl-conductor"}
    assert "kubectl-conductor" in PYPROJECT["project"]["scripts"], "the pip console script stays"


def test_the_manifest_says_it_is_not_installable_until_a_release_publishes_the_archive():
    """Honesty: the sha256 values are placeholders, and the file says so (as does the README)."""
    text = MANIFEST.read_text()
    assert "Not installable yet" in text
    placeholders = [p["sha256"] for p in manifest()["spec"]["platforms"] if set(p["sha256"]) == {"0"}]
    assert not placeholders or "placeholder" in text
