"""Shared fixtures: the repository, and running the workflow in a scratch directory."""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from ols_transformer import stages
from ols_transformer.config import deep_merged

# One intra-op thread, as every stage runs (StageRun): on these small tensors a second thread
# only adds synchronisation (the sweep fixture of test_training_sweep takes 14 s with two, 3.5 s
# with one), and the workflow tests' jobs need the other core.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "config" / "quick.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# The paper's text, beside the checkout (shared/seeds); tests that read it skip where it is not.
PAPER = REPO.parent / "shared" / "seeds" / "paper_ols_special_case_of_transformer.txt"


def default_config_with(*files: Path) -> dict[str, Any]:
    """config.yaml with each of ``files`` merged on top, in order."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for path in files:
        config = deep_merged(config, yaml.safe_load(Path(path).read_text()))
    return config


def merged_config(*overrides: dict[str, Any]) -> dict[str, Any]:
    """config.yaml with quick.yaml and ``overrides`` merged on top, as Snakemake merges them."""
    config = default_config_with(QUICK)
    for layer in overrides:
        config = deep_merged(config, copy.deepcopy(layer))
    return config


def capacity_table(laws: dict[str, tuple[str, np.ndarray]], N: np.ndarray,
                   **settings: object) -> pd.DataFrame:
    """A hopfield_capacity table from known laws: run -> (model, capacity at each N), two seeds
    with the same capacity; ``settings`` override the criterion columns."""
    rows = [{"run": run, "model": model, "N": n, "seed": seed, "capacity": c}
            for run, (model, law) in laws.items() for n, c in zip(N, law, strict=True)
            for seed in (0, 1)]
    base = {"rho": 0.2, "threshold": 0.9, "min_overlap": 1.0, "beta": "", "censored": False}
    return pd.DataFrame(rows).assign(**{**base, **settings})


# ---- Partial versions and part jobs: the one place the tests name them ----------------------
# (the config field `stages`, the part rules `<stage>_part` and their units `<stage>_<part>`).
# Every test that limits a run to some stages, or names a part job, goes through these.

def only_stages(*stages: str) -> tuple[list[str], dict[str, str]]:
    """Snakemake arguments (the target and the config field ``stages``) and environment for a
    run whose version holds only ``stages`` (registry names, e.g. ``proof``,
    ``notebook_proof``), each computed or reused with what it needs upstream."""
    return ["version", "--config", f"stages=[{','.join(stages)}]"], {}


def part_jobs(stage: str, config: dict[str, Any]) -> Counter[str]:
    """``stage``'s part jobs for ``config`` (the whole merged config), counted as Snakemake's
    job stats count them: one wildcard rule ``<stage>_part``, a job per entry of
    ``stages.parts`` (config.hopfield_jobs, config.icl_jobs, config.attention_regression_jobs:
    small parts share a job)."""
    found = stages.parts(stage, config)
    if not stages.STAGES[stage].parts:
        raise ValueError(f"{stage} has no part jobs")
    return Counter({f"{stage}_part": len(found)})


def part_units(stage: str, config: dict[str, Any]) -> set[str]:
    """The reuse units (stage directories) of ``stage``'s part jobs: ``<stage>_<job>``."""
    return {stages.part_stage(stage, part) for part in stages.parts(stage, config)}


# ---- running the workflow --------------------------------------------------------------------

def snakemake_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a local workflow run: this Python's bin first (its snakemake,
    ols-transformer and kernel), and the scontrol stand-in of tests/bin (see there)."""
    path = f"{REPO / 'tests' / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    return {**os.environ, "PATH": path, **(env or {})}


def run_snakemake(workdir: Path, *args: str, timeout: int = 600,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the repository's workflow with ``workdir`` as its working directory."""
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=snakemake_env(env))


def version_dirs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "results").glob("*-*") if p.is_dir())


def install_non_editable(venv: Path) -> Path:
    """``pip install .`` of this checkout, not editable, into a new venv at ``venv``; returns
    its Python. The locked dependencies come from the test environment's site-packages (a
    ``.pth`` line, so nothing is downloaded); the package itself is built from a copy of the
    checkout's sources, so the jobs cannot import ``src/`` from the checkout."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    dependencies = next(p for p in map(Path, sys.path) if (p / "snakemake").is_dir())
    (Path(site.stdout.strip()) / "locked-dependencies.pth").write_text(f"{dependencies}\n")
    source = venv.parent / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--no-build-isolation", str(source)], check=True,
                   capture_output=True)
    return python


class QuickRun:
    """The quick config run from a non-editable install (``install_non_editable``: what
    `pip install .` gives a user), in a background thread: started before the first test, so
    the tests that do not read it run meanwhile (the pipeline's jobs leave a core idle much of
    the time); ``result`` waits for it."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.venv = tmp_path_factory.mktemp("installed") / "venv"
        self.workdir = tmp_path_factory.mktemp("quick_run")
        self.process: subprocess.Popen[str] | None = None
        self.error = ""
        self.environ = dict(os.environ)  # as the session starts: tests may change it meanwhile
        self.cancelled = False
        self.lock = threading.Lock()  # between starting the process and stopping it
        self.thread = threading.Thread(target=self._run, name="quick_run", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            python = install_non_editable(self.venv)
            command = [str(python), "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                       "--directory", str(self.workdir), "--cores", "2", "--configfile",
                       str(QUICK)]
            # nbconvert's HTML templates are data files of the dependencies' environment.
            stand_in = REPO / "tests" / "bin"  # (snakemake_env)
            env = {**self.environ, "PATH": f"{stand_in}:{python.parent}:{self.environ['PATH']}",
                   "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
            log = self.venv.parent / "snakemake.log"
            with log.open("w") as handle:
                with self.lock:
                    if self.cancelled:
                        return
                    self.process = subprocess.Popen(command, stdout=handle,
                                                    stderr=subprocess.STDOUT, text=True, env=env,
                                                    start_new_session=True)
                try:
                    returncode = self.process.wait(timeout=600)
                except subprocess.TimeoutExpired:
                    self.stop()
                    returncode = None
            if returncode != 0:
                self.error = f"quick workflow failed (rc {returncode}):\n{log.read_text()[-6000:]}"
        except Exception as error:  # noqa: BLE001 (reported by the fixture, in the main thread)
            self.error = f"quick workflow could not start: {error!r}"

    def result(self) -> Path:
        """The run's version directory, once it has finished."""
        self.thread.join()
        if self.error:
            pytest.fail(self.error)
        (version,) = version_dirs(self.workdir)
        return version

    def stop(self) -> None:
        """Stop the run if it is still going (a session that ends early: -x, Ctrl-C)."""
        with self.lock:
            self.cancelled = True
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


# The local SLURM cluster of tests/test_slurm.py: its state directory and scripts.
SLURM_BASE = Path(os.environ.get("OLS_SLURM_BASE", "/tmp/slurmtest"))  # state, logs, DB, pids
SLURM_SCRIPTS = REPO / "scripts" / "slurm"


class SlurmSetup:
    """scripts/slurm/setup_local_slurm.sh in a background thread, started before the first test
    (~10 s to start the daemons, ~90 s where it must apt-install them first): the SLURM test,
    which runs last, finds the cluster up. ``result`` waits for it: (the script's exit status,
    None if it timed out; its output; seconds)."""

    def __init__(self) -> None:
        self.outcome: tuple[int | None, str, float] = (None, "not run", 0.0)
        self.thread = threading.Thread(target=self._run, name="slurm_setup", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            setup = subprocess.run(["bash", str(SLURM_SCRIPTS / "setup_local_slurm.sh")],
                                   env={**os.environ, "BASE": str(SLURM_BASE)},
                                   capture_output=True, text=True, timeout=900)
            self.outcome = (setup.returncode, setup.stdout + setup.stderr,
                            time.monotonic() - started)
        except subprocess.TimeoutExpired as error:
            self.outcome = (None, f"setup timed out after {error.timeout} s",
                            time.monotonic() - started)

    def result(self) -> tuple[int | None, str, float]:
        self.thread.join()
        return self.outcome


def slurm_unavailable() -> str:
    """Why the local SLURM cluster cannot be started here, or '' if it may."""
    if os.geteuid() != 0:
        return "the daemons must be started as root"
    if not Path("/usr/bin/apt-get").exists() and not Path("/usr/sbin/slurmctld").exists():
        return "neither apt-get nor an installed slurmctld (Debian/Ubuntu only)"
    return ""


@pytest.fixture(scope="session", autouse=True)
def _slurm_setup_started(request: pytest.FixtureRequest) -> SlurmSetup | None:
    """Starts the SLURM setup before the first test when a selected test needs the cluster
    (the `slurm` marker) and it may start here; test_slurm's fixture waits for it, and stops
    the cluster after its test."""
    wanted = any(item.get_closest_marker("slurm") for item in request.session.items)
    return SlurmSetup() if wanted and not slurm_unavailable() else None


@pytest.fixture(scope="session", autouse=True)
def _quick_run_started(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickRun | None]:
    """Starts the quick run before the first test when a selected test reads it (those run
    last: ``pytest_collection_modifyitems``), the SLURM test included where it may run."""
    slurm = not slurm_unavailable()
    if not any("quick_run" in getattr(item, "fixturenames", ())
               or (slurm and item.get_closest_marker("slurm"))
               for item in request.session.items):
        yield None
        return
    run = QuickRun(tmp_path_factory)
    yield run
    run.stop()


@pytest.fixture(scope="session")
def quick_run(_quick_run_started: QuickRun | None,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick config run once for the whole test session, from a non-editable install in a
    fresh venv (``install_non_editable``: what `pip install .` gives a user); returns its version
    directory. Later tests re-run the workflow on it from the editable install: both compute the
    same version and stage keys."""
    run = _quick_run_started or QuickRun(tmp_path_factory)  # (asked for by getfixturevalue)
    return run.result()


# The config change of `second_version`: the training stage's learning rate doubled.
_RATE = 2 * merged_config()["training"]["learning_rate"]
# (the sweep of the learning rate must hold the run's own: config.sweep_problems)
SECOND_CHANGE = {"training": {"learning_rate": _RATE, "sweep": {"learning_rates": sorted(
    {*merged_config()["training"]["sweep"]["learning_rates"], _RATE})}}}


@pytest.fixture(scope="session")
def second_version(quick_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second version beside the quick run, in a copy of its working directory: the quick
    config with ``SECOND_CHANGE``, up to the training stage (data reused, training computed
    again). Returns its version directory; the copy's other version is the quick run's."""
    workdir = tmp_path_factory.mktemp("second") / "work"
    shutil.copytree(quick_run.parents[1], workdir, symlinks=True)
    changed = workdir / "changed.yaml"
    changed.write_text(yaml.safe_dump(SECOND_CHANGE))
    args, env = only_stages("data", "training")
    result = run_snakemake(workdir, *args, "--configfile", str(QUICK), str(changed), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    (version,) = [v for v in version_dirs(workdir) if v.name != quick_run.name]
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the quick run after the others, so that these run while it computes
    (``QuickRun``); SLURM tests last, so that their cluster starts meanwhile (``SlurmSetup``).
    (Local workflow runs do not wait on a stopped SLURM controller: ``snakemake_env``.)"""
    items.sort(key=lambda item: (item.get_closest_marker("slurm") is not None,
                                 "quick_run" in getattr(item, "fixturenames", ())))
