"""Stages of the quick pipeline submitted through a real one-node SLURM cluster, compared with
the local run. The run directory starts with the local run's data and proof-check stages, which
the cluster run reuses (reuse by content across executors); it computes through SLURM the
training stage (torch), the Hopfield stage scattered and gathered (the
quick config's two part jobs, then their gather, which waits for both) and the proof notebook
(papermill on the node's Python, as the `summary` group job: docs/cluster.md), with the version
copy (one job) run locally; conftest.only_stages limits the version to these stages. The
other stages are left out for time: they are rules of the same kind, through the same executor
(the covariance-shift stage, a one-job torch stage as training is, was dropped for time: ~20 s
of the node's two CPUs). The cluster starts before the first test, and the run starts once the
quick run is done, in the background (``SlurmRun``): the other tests run meanwhile.

The fixture starts munge, slurmctld, slurmd and slurmdbd (MariaDB) on 127.0.0.1 with
scripts/slurm/setup_local_slurm.sh (apt-installs Debian's packages when missing) and stops them
afterwards with scripts/slurm/teardown.sh. Where that cannot work (not root, no packages, the
daemons do not start, a real SLURM configuration present) the test is skipped with the reason;
set OLS_REQUIRE_SLURM=1 to make that a failure instead (CI).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import (
    QUICK,
    REPO,
    SLURM_BASE,
    SLURM_SCRIPTS,
    SNAKEMAKE,
    QuickRun,
    SlurmSetup,
    merged_config,
    only_stages,
    part_jobs,
    slurm_unavailable,
    snakemake_env,
    version_dirs,
)

DOCS = ("README.md", "docs/cluster.md")
# inline code, or a line of a code block
SHOWN = re.compile(r"`(snakemake --profile [^`\n]*)`|^(snakemake --profile [^`\n]*)$",
                   re.MULTILINE)


def shown_commands() -> dict[str, list[str]]:
    """doc -> the `snakemake --profile ...` commands it shows, in order."""
    return {doc: [(inline or line).strip() for inline, line in SHOWN.findall(
        (REPO / doc).read_text())] for doc in DOCS}


# The command users run on a cluster, the first one docs/cluster.md shows; the test runs exactly
# this, plus --configfile config/quick.yaml, a scratch --directory and a short first status check.
CLUSTER_COMMAND = shown_commands()["docs/cluster.md"][0]
SETUP_SKIPS = {2: "not root", 3: "a SLURM configuration not written by the test exists",
               4: "the SLURM/munge/MariaDB packages could not be installed with apt-get"}
COMPARED = ("tables/**/*.csv", "figures/**/*.png", "figures/**/*.pdf")
REUSED = ("data", "proof")  # stage directories copied from the local run
STAGES = ("data", "proof", "training", "hopfield", "notebook_proof")
HOPFIELD_PARTS = part_jobs("hopfield", merged_config())  # the quick config's two


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("OLS_REQUIRE_SLURM") == "1":
        pytest.fail(f"local SLURM required (OLS_REQUIRE_SLURM=1) but unavailable: {reason}")
    pytest.skip(f"local SLURM cluster unavailable: {reason}")


@pytest.fixture(scope="module")
def local_slurm(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A running one-node SLURM cluster with accounting (started in the background before the
    first test: conftest.SlurmSetup); yields its state directory."""
    if why := slurm_unavailable():
        _skip_or_fail(why)
    setup: SlurmSetup = request.getfixturevalue("_slurm_setup_started") or SlurmSetup()
    rc, log, seconds = setup.result()
    print(f"SLURM setup: {seconds:.1f} s (in the background)\n{log[-3000:]}")
    # Stop only what this setup started: a cluster already running (e.g. a developer's) stays.
    ours = re.search(r"\w+ started pid", log) is not None
    try:
        if rc != 0:
            _skip_or_fail(f"{SETUP_SKIPS.get(rc, 'setup failed')} (rc {rc}): {log[-800:]}")
        yield SLURM_BASE
    finally:
        if ours or rc is None:
            teardown = subprocess.run(["bash", str(SLURM_SCRIPTS / "teardown.sh")],
                                      env={**os.environ, "BASE": str(SLURM_BASE), "PURGE": "1"},
                                      capture_output=True, text=True, timeout=300)
            print(teardown.stdout + teardown.stderr)


def _sacct(run_id: str, since: datetime) -> list[dict[str, str]]:
    fields = ["JobID", "State", "Comment", "WorkDir", "Start", "End"]
    result = subprocess.run(
        ["sacct", "-X", "-n", "-P", "--name", run_id, "-S", since.strftime("%Y-%m-%dT%H:%M:%S"),
         "-o", ",".join(fields)], capture_output=True, text=True, timeout=60, check=True)
    return [dict(zip(fields, line.split("|"), strict=True))
            for line in result.stdout.splitlines() if line]


def sacct_time(job: dict[str, str], field: str) -> datetime:
    """A job's Start or End as sacct prints it (2026-11-27T15:04:41)."""
    return datetime.fromisoformat(job[field])


def _rule_of(comment: str, groups: list[str]) -> str:
    """The rule (or group) of a job: the plugin's job comment is rule_<name>,
    rule_<name>_wildcards_<values>, or, for a group job, rule_<group>_<its rules>."""
    for group in groups:
        if comment.startswith(f"rule_{group}_"):
            return group
    return comment.removeprefix("rule_").split("_wildcards_")[0]


class SlurmRun:
    """The cluster run of test_stages_through_slurm_match_the_local_run, in a background thread
    started with this module's first test: it waits for the session's quick run and for the
    cluster, then runs while the other tests read the quick run (it waits mostly on SLURM: job
    start-up, the executor's polling). ``result`` waits for it."""

    def __init__(self, quick: QuickRun, setup: SlurmSetup, workdir: Path) -> None:
        self.quick, self.setup, self.workdir = quick, setup, workdir
        self.process: subprocess.Popen[str] | None = None
        self.outcome: tuple[int, str, datetime, float] | None = None  # rc, output, since, s
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="slurm_run", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            quick_run = self.quick.result()
            if self.setup.result()[0] != 0:
                return  # (local_slurm skips or fails the test, naming why)
            for stage in REUSED:
                shutil.copytree(quick_run.parents[1] / "results" / "stages" / stage,
                                self.workdir / "results" / "stages" / stage)
            _, *profile_args = CLUSTER_COMMAND.split()
            profile_args[-1] = str(REPO / profile_args[-1])
            targets, stages_env = only_stages(*STAGES)
            command = ["timeout", "-s", "INT", "-k", "60", "1200", SNAKEMAKE,
                       "--snakefile", str(REPO / "Snakefile"), "--directory",
                       str(self.workdir), *targets, "--configfile", str(QUICK), *profile_args,
                       # Poll every second, not every 10 s: a one-node test cluster.
                       "--slurm-init-seconds-before-status-checks", "1",
                       "--seconds-between-status-checks", "1"]
            # SLURM jobs re-run snakemake in the submitter's environment (sbatch --export=ALL).
            env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                   **stages_env}
            since = datetime.now() - timedelta(minutes=1)
            started = time.monotonic()
            self.process = subprocess.Popen(command, cwd=self.workdir, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            start_new_session=True)
            output, _ = self.process.communicate(timeout=1400)
            self.outcome = (self.process.returncode, output, since, time.monotonic() - started)
        except BaseException as error:  # noqa: BLE001 (raised again by result, in the test)
            self.error = error

    def result(self) -> tuple[int, str, datetime, float]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.outcome is not None, "the SLURM run did not start"
        return self.outcome

    def stop(self) -> None:
        """Stop the run if it is still going (a session that ends early)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)


@pytest.fixture(scope="session", autouse=True)
def _slurm_run_started(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmRun | None]:
    """Starts the SLURM run with this module's first test, where the SLURM test is selected and
    the cluster is being started (conftest: SlurmSetup, QuickRun)."""
    setup = request.getfixturevalue("_slurm_setup_started")
    quick = request.getfixturevalue("_quick_run_started")
    if setup is None or quick is None:
        yield None
        return
    run = SlurmRun(quick, setup, tmp_path_factory.mktemp("slurm") / "slurm_run")
    yield run
    run.stop()


@pytest.mark.slurm
def test_stages_through_slurm_match_the_local_run(
    local_slurm: Path, request: pytest.FixtureRequest
) -> None:
    # The session's local quick run, requested here so that a skip above costs no local run.
    quick_run: Path = request.getfixturevalue("quick_run")
    background: SlurmRun | None = request.getfixturevalue("_slurm_run_started")
    assert background is not None  # (started with the cluster, which local_slurm found up)
    workdir = background.workdir
    returncode, output, since, seconds = background.result()
    print(f"snakemake through SLURM: {seconds:.1f} s (in the background), rc {returncode}")
    assert returncode == 0, f"SLURM run failed (rc {returncode}):\n{output[-8000:]}"

    # Every job Snakemake sent to the cluster is in SLURM's accounting, completed, and ran in
    # the run directory; local rules (`localrule ...`) are the only ones that did not go there.
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-3000:]
    jobs = _sacct(run_id.group(1), since)
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", output))
    # a rule's job is logged as `rule <name>:`, a group job as `[<time>] Group job <group> (...)`
    groups = re.findall(r"Group job (\w+) \(", output)
    remote_rules = Counter(re.findall(r"^rule (\w+):$", output, flags=re.MULTILINE))
    remote_rules.update(groups)
    assert jobs and submitted == {job["JobID"] for job in jobs}, (jobs, submitted)
    assert Counter(_rule_of(job["Comment"], groups) for job in jobs) == remote_rules, jobs
    assert {job["State"] for job in jobs} == {"COMPLETED"}, jobs
    assert {Path(job["WorkDir"]) for job in jobs} == {workdir}, jobs
    print(f"sacct: {len(jobs)} jobs COMPLETED: {sorted(remote_rules.elements())}")

    # The same code and config (but its `stages`: a partial version of its own), the same
    # files, identical tables and figures.
    (version,) = version_dirs(workdir)
    # data, proof reused; Hopfield's two parts and gather; the notebook in the `summary` group
    assert remote_rules == Counter({"training": 1, **HOPFIELD_PARTS, "hopfield": 1,
                                    "summary": 1})
    # the gather was submitted only once both parts had finished in SLURM
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(_rule_of(job["Comment"], groups), []).append(job)
    (gather,) = by_rule["hopfield"]
    assert len(by_rule["hopfield_part"]) == HOPFIELD_PARTS.total()
    assert all(sacct_time(part, "End") <= sacct_time(gather, "Start")
               for part in by_rule["hopfield_part"]), jobs

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                and p.relative_to(root).parts[0] not in ("logs", "provenance")}

    assert files(version) and files(version) <= files(quick_run)
    assert {"notebooks/proof.html", "tables/proof_check.csv", "tables/fig1_headline.csv",
            "tables/hopfield_capacity.csv",
            "figures/hopfield_capacity.png"} <= files(version)
    compared = sorted({p.relative_to(version).as_posix()
                       for pattern in COMPARED for p in version.glob(pattern)})
    assert any(name.endswith(".csv") for name in compared)
    differing = [name for name in compared
                 if (version / name).read_bytes() != (quick_run / name).read_bytes()]
    assert not differing, f"SLURM and local outputs differ: {differing}"


def test_every_cluster_command_the_docs_show_runs_the_slurm_profile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `snakemake --profile ...` line of the README and docs/cluster.md, as Snakemake's own
    command line parser reads it from the repository root: the profile is found and every one of
    its settings is an option Snakemake knows (an unknown key is an error), and it submits
    through the SLURM executor; the README and cluster.md start from the same command, the one
    test_stages_through_slurm_match_the_local_run runs."""
    shown = shown_commands()
    assert all(shown.values()), shown
    assert shown["README.md"][0] == CLUSTER_COMMAND == "snakemake --profile workflow/profiles/slurm"
    monkeypatch.chdir(REPO)
    # (importing the SLURM plugin asks scontrol: the stand-in answers at once, conftest)
    monkeypatch.setenv("PATH", snakemake_env()["PATH"])
    from snakemake.cli import parse_args
    for command in dict.fromkeys(c for commands in shown.values() for c in commands):
        _, args = parse_args(command.split()[1:])
        assert args.executor == "slurm", command  # (the default is the local executor)
        assert [str(f) for f in args.configfile or []] == re.findall(r"--configfile (\S+)",
                                                                     command), command
        for path in args.configfile or []:
            assert (REPO / path).is_file(), command
