"""Shared fixtures: where the real data lives, and a quiet MLflow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SUITE_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (SHARED_DATA / "MANIFEST.md").exists():
        pytest.skip(
            f"real data not found at {SHARED_DATA} (set SUITE_DATA or put ../shared/data beside the repo)"
        )
    return SHARED_DATA
