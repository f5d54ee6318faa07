"""crds/ holds exactly what the models generate: a change to operator/conductor_operator/api/ needs a regeneration."""

from __future__ import annotations

from pathlib import Path

from conductor_operator.api.crdgen import render_crds

CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"
FIX = "run `python -m conductor_operator.api.crdgen` (from the repository root) and commit crds/"


def test_crds_folder_matches_the_models():
    rendered = render_crds()
    on_disk = {path.name: path.read_text() for path in CRDS_DIR.glob("*.conductor-operator.io.yaml")}
    missing = sorted(set(rendered) - set(on_disk))
    extra = sorted(set(on_disk) - set(rendered))
    stale = sorted(name for name in set(rendered) & set(on_disk) if rendered[name] != on_disk[name])
    assert not (missing or extra or stale), (
        f"crds/ differs from the models (missing: {missing}, not generated: {extra}, stale: {stale}); {FIX}")
