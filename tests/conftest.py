"""Shared fixtures: the repository, and running the workflow in a scratch directory."""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "config" / "quick.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def merged_config(*overrides: dict[str, Any]) -> dict[str, Any]:
    """config.yaml with quick.yaml and ``overrides`` merged on top, as Snakemake merges them."""
    def merge(base: dict, update: dict) -> dict:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for layer in (yaml.safe_load(QUICK.read_text()), *overrides):
        config = merge(config, copy.deepcopy(layer))
    return config


def run_snakemake(workdir: Path, *args: str, timeout: int = 600,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the repository's workflow with ``workdir`` as its working directory."""
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "2", *args]
    full_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=full_env)


def version_dirs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "results").glob("*-*") if p.is_dir())


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick config run once for the whole test session; returns its version directory."""
    workdir = tmp_path_factory.mktemp("quick_run")
    result = run_snakemake(workdir, "--configfile", str(QUICK))
    if result.returncode != 0:
        pytest.fail(f"quick workflow failed:\n{result.stderr[-6000:]}")
    (version,) = version_dirs(workdir)
    return version


@pytest.fixture()
def scratch_repo_copy(tmp_path: Path) -> Path:
    """A copy of the code (no results), for tests that must change code or config files."""
    target = tmp_path / "repo"
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(
        ".git", ".venv", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache"))
    return target


@pytest.fixture()
def seed() -> int:
    """A fresh random seed for each math test, so its tolerances must hold for any seed, not
    one. Printed (pytest shows it with a failure); replay with OLS_TEST_SEED=<seed>."""
    value = int(os.environ.get("OLS_TEST_SEED", secrets.randbits(32)))
    print(f"random seed {value} (replay: OLS_TEST_SEED={value} pytest ...)")
    return value


@pytest.fixture()
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
