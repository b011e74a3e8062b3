"""Shared fixtures: the real datasets in ../shared/data and an isolated windows cache."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own windows cache so that no test reads another's leftovers."""
    monkeypatch.setenv("LANHAR_FL_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def shared_dataset(name: str) -> Path:
    """Path of a real dataset under ../shared/data, or skip when this checkout lacks it."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real dataset {path} not present")
    return path
