"""Reliability: interrupt and resume, versions never rewritten, failures leave a clean index,
invalid data refused, no unpickling or network at run time."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    QUICK,
    REPO,
    SNAKEMAKE,
    merged_config,
    only_stages,
    run_snakemake,
    snakemake_env,
    version_dirs,
)

from ols_transformer import versioning
from ols_transformer.experiments import proof
from ols_transformer.versioning import version_id

pytestmark = pytest.mark.workflow
FINAL_SUFFIXES = {".csv", ".png", ".pdf", ".npz"}


def checksums(version: Path) -> dict[str, str]:
    return {str(p.relative_to(version)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(version.rglob("*")) if p.is_file()}


# The stages a killed run is resumed through: data, then the proof check, killed while it runs
# (the rest is left out for time; test_slurm compares a second, independent run of training).
RESUMED = only_stages("data", "proof")  # (the target, and the environment)


def test_killed_run_resumes_to_byte_identical_outputs(quick_run: Path, tmp_path: Path) -> None:
    targets, env = RESUMED
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
               "--cores", "2", *targets, "--configfile", str(QUICK)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=snakemake_env(env), start_new_session=True)
    results = tmp_path / "results"
    deadline = time.monotonic() + 120
    # Kill hard once the data stage is done and later stages are running.
    while not list(results.glob("stages/data/*/provenance/data.json")):
        assert process.poll() is None and time.monotonic() < deadline, "run ended too early"
        time.sleep(0.05)
    time.sleep(1.0)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    # Anything under a final name, in a stage directory or the version, is whole: identical to
    # the clean run's file (same config and code: same stage keys), or, for provenance (which
    # records the time), valid JSON of this version.
    clean = quick_run.parents[1]
    finished = checksums(clean / "results")
    versions = {p.name for p in results.iterdir() if p.is_dir() and p.name != "stages"}
    assert len(versions) == 1  # created before any job started

    def clean_name(rel: str) -> str:
        """The clean run's file of ``rel``: the same stage file, or its version's copy."""
        first, *rest = Path(rel).parts
        return rel if first == "stages" else str(Path(quick_run.name, *rest))

    for path in results.rglob("*"):
        if not path.is_file() or path.name.startswith(".") or path.parent == results \
                or "logs" in path.parts:  # (results/versions.csv lists creation times)
            continue
        rel = str(path.relative_to(results))
        if path.suffix == ".json":  # this partial run's version (its `stages` in its config)
            assert json.loads(path.read_text())["version"] in versions
        elif path.suffix in FINAL_SUFFIXES:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == finished[clean_name(rel)], rel
    assert not list(results.glob("stages/proof/*/provenance/proof.json"))  # killed

    # A hard kill leaves Snakemake's lock behind (Ctrl-C does not): release it, as the README says.
    assert run_snakemake(tmp_path, "--configfile", str(QUICK), "--unlock").returncode == 0
    resumed = run_snakemake(tmp_path, *targets, "--configfile", str(QUICK), env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Determinism too: every table, figure and data file of this second, independent run is
    # byte-identical to the first run's.
    again = checksums(results)
    compared = [rel for rel in again if Path(rel).suffix in FINAL_SUFFIXES and "/" in rel]
    assert len(compared) >= 10  # the stage directories and the version's copies
    for rel in compared:
        assert again[rel] == finished[clean_name(rel)], f"{rel} differs between two runs"


def test_new_config_writes_new_version_and_failure_keeps_index(
        quick_run: Path, second_version: Path, tmp_path: Path) -> None:
    """The session's second version (another config, up to the training stage) was written
    beside the quick run's, which it left byte for byte as it was; a run that fails then adds
    an incomplete version to the index and touches neither."""
    workdir = tmp_path / "work"
    shutil.copytree(second_version.parents[1], workdir, symlinks=True)
    old = workdir / "results" / quick_run.name
    before = checksums(quick_run)
    assert len(version_dirs(workdir)) == 2
    assert checksums(old) == before  # the earlier version is untouched

    diverging = tmp_path / "diverging.yaml"
    # (the w0 sweep must hold the run's own w0: config.sweep_problems)
    w0s = sorted({*merged_config()["training"]["sweep"]["w0"], 1.0e200})
    diverging.write_text(yaml.safe_dump({"training": {"w0": 1.0e200, "sweep": {"w0": w0s}}}))
    targets, training = only_stages("training")  # a version of the training stage only
    failed = run_snakemake(workdir, *targets, "--configfile", str(QUICK), str(diverging),
                           env=training)
    assert failed.returncode != 0
    assert "training diverged" in failed.stderr and "learning_rate" in failed.stderr
    assert checksums(old) == before
    index = pd.read_csv(workdir / "results" / "versions.csv").set_index("version")
    assert len(index) == 3 and set(index["status"]) <= {"complete", "partial", "incomplete"}
    assert index.loc[second_version.name, "status"] == "partial"  # data and training, done
    failed_versions = [v for v in index.index if v not in {p.name for p in version_dirs(workdir)
                                                           if (p / "tables" / "fig1_headline.csv")
                                                           .exists()}]
    assert len(failed_versions) == 1 and index.loc[failed_versions[0], "status"] == "incomplete"


def test_version_changes_with_code_and_config_only(scratch_repo_copy: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    same = version_id(config, REPO)
    assert version_id(config, scratch_repo_copy) == same  # content, not location
    assert version_id({**config, "run_name": "other"}, REPO) != same
    tweaked = {**config, "training": {**config["training"], "epochs": 4999}}
    assert version_id(tweaked, REPO) != same
    (scratch_repo_copy / "README.md").write_text("docs do not change results\n")
    assert version_id(config, scratch_repo_copy) == same
    notebook = scratch_repo_copy / "notebooks" / "proof.ipynb"
    notebook.write_text(notebook.read_text().replace("Proof check", "Proof"))
    assert version_id(config, scratch_repo_copy) != same
    # The package counts wherever it is installed: here, the copy's src/ as if installed there.
    package = scratch_repo_copy / "src" / "ols_transformer"
    monkeypatch.setattr(versioning, "package_dir", lambda: package)
    fresh = version_id(config, scratch_repo_copy)
    (package / "ols.py").write_text((package / "ols.py").read_text() + "\n# a code change\n")
    assert version_id(config, scratch_repo_copy) != fresh


def test_a_stale_installed_package_is_refused(scratch_repo_copy: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkout's src/ differs from the package the workflow imports: refused, naming the
    files and the fix (an install from another checkout would run other code)."""
    assert versioning.package_mismatch(REPO) == []
    module = scratch_repo_copy / "src" / "ols_transformer" / "ols.py"
    module.write_text(module.read_text() + "\n# edited after install\n")
    assert versioning.package_mismatch(scratch_repo_copy) == ["ols.py"]
    result = subprocess.run([SNAKEMAKE, "-n", "--snakefile", str(scratch_repo_copy / "Snakefile"),
                             "--directory", str(scratch_repo_copy), "--configfile", str(QUICK)],
                            capture_output=True, text=True, timeout=120, env=snakemake_env())
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "differs from this checkout's src/" in output and "pip install ." in output


@pytest.mark.parametrize(("corrupt", "message"), [
    (lambda X: np.column_stack([X[:, :-1], X[:, 0]]), "numerical rank"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
    (lambda X: X[:2], "p=3 columns but only n=2 rows"),
])
def test_invalid_data_is_refused_naming_the_case(corrupt, message: str) -> None:
    rng = np.random.default_rng(0)
    X = corrupt(rng.standard_normal((40, 3)))
    cases = {"bad_case": {"X": X, "y": rng.standard_normal(X.shape[0])}}
    cfg = {"dtypes": ["float64"], "reference_digits": 30}
    with pytest.raises(ValueError, match=f"data case bad_case: .*{re.escape(message)}"):
        proof.run(cfg, cases)


def test_no_unpickling_or_network_in_run_time_code() -> None:
    forbidden = re.compile(r"\bpickle\b|allow_pickle=True|torch\.load\(|urllib|requests\.|"
                           r"socket\.|http\.client")
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "workflow").rglob("*.py"),
               *(REPO / "workflow").rglob("*.smk"), REPO / "Snakefile"]
    offenders = [f"{p.relative_to(REPO)}:{i}" for p in sources
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if forbidden.search(line) and "never unpickles" not in line]
    assert offenders == []
