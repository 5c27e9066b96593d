"""Lint gates: ruff on the code, snakefmt and snakemake --lint on the workflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, SNAKEMAKE, snakemake_env


def test_ruff_is_clean() -> None:
    ruff = str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "src", "tests", "workflow", "benchmarks", "notebooks"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean() -> None:
    # line_length from [tool.snakefmt] in pyproject.toml, the same as ruff's
    snakefmt = str(Path(sys.executable).with_name("snakefmt"))
    result = subprocess.run([snakefmt, "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint_is_clean() -> None:
    result = subprocess.run([SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env=snakemake_env())
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr
