"""Versions keep their promise: copies checked against their provenance before a version is
listed complete or reused (a mismatch named by file), a recovered stage never rewrites a
version, a damaged stage folder moved aside once, a partial run that succeeded is `partial`,
a read-only results/ refused at start."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import QUICK, only_stages, run_snakemake

from ols_transformer import cli, reuse, versioning
from ols_transformer.io import write_json
from ols_transformer.provenance import file_records


def stage(root: Path, unit: str, key: str, text: str = "a,b\n1,2\n") -> str:
    """A finished stage directory results/stages/<unit>/<key> with one table and its record
    (paths relative to ``root``, the working directory); returns its directory."""
    stage_dir = f"results/stages/{unit}/{key}"
    table = root / stage_dir / "tables" / f"{unit}.csv"
    table.parent.mkdir(parents=True)
    table.write_text(text)
    os.chdir(root)
    write_json({"stage": unit, "version": "v-1", "outputs": file_records([
        f"{stage_dir}/tables/{unit}.csv"])}, root / stage_dir / "provenance" / f"{unit}.json")
    return stage_dir


def version(root: Path, name: str, stage_dirs: dict[str, str],
            config: dict | None = None) -> Path:
    """A version folder made as the workflow makes it: its run record, and each stage's copy
    with the version's record of it (reuse.copy_stage)."""
    os.chdir(root)
    write_json({"created": "2026-01-01T00:00:00+00:00", "config": config or {"run_name": "v"}},
               root / "results" / name / "provenance" / "run.json")
    for unit, stage_dir in stage_dirs.items():
        reuse.copy_stage(unit, [f"{stage_dir}/tables/{unit}.csv"],
                         [f"results/{name}/tables/{unit}.csv"],
                         f"{stage_dir}/provenance/{unit}.json",
                         f"results/{name}/provenance/{unit}.json", name,
                         f"results/{name}/logs/version_{unit}.log")
    return root / "results" / name


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_edited_copy_is_named_and_the_version_not_complete(work: Path) -> None:
    dirs = {"proof": stage(work, "proof", "k1"), "claims": stage(work, "claims", "k2")}
    v = version(work, "v-1", dirs)
    (v / "claims" / "claims.csv").parent.mkdir()
    (v / "claims" / "claims.csv").write_text("claim_id,verdict\nx,PASS\n")
    assert versioning.version_status(v) == ("complete", [])
    with (v / "tables" / "proof.csv").open("a") as handle:
        handle.write("3,4\n")  # a row appended
    (v / "tables" / "claims.csv").unlink()
    damage = ["tables/claims.csv: missing (listed in provenance/claims.json)",
              "tables/proof.csv: SHA-256 differs from provenance/proof.json"]
    assert versioning.version_status(v) == ("damaged", damage)
    index = versioning.update_index(work / "results").set_index("version")
    assert index.loc["v-1", "status"] == "damaged"
    assert index.loc["v-1", "damaged"] == "; ".join(damage)


def test_versions_lists_the_damaged_files(work: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    v = version(work, "v-1", {"proof": stage(work, "proof", "k1")})
    versioning.update_index(work / "results")
    (v / "tables" / "proof.csv").write_text("a,b\n9,9\n")  # after the index was written
    assert cli.main(["versions", "--results", str(work / "results")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^v-1\s+\S+\s+damaged", out, re.MULTILINE)
    assert "  tables/proof.csv: SHA-256 differs from provenance/proof.json" in out


def test_a_partial_run_that_succeeded_is_partial(work: Path) -> None:
    dirs = {"proof": stage(work, "proof", "k1")}
    done = version(work, "v-1", dirs, {"run_name": "v", "stages": ["proof"]})
    assert versioning.version_status(done) == ("partial", [])
    # a partial run whose chosen stage was never copied (it failed or was killed)
    failed = version(work, "v-2", {}, {"run_name": "v", "stages": ["proof"]})
    assert versioning.version_status(failed) == ("incomplete", [])
    # a full run without its ledger
    assert versioning.version_status(version(work, "v-3", dirs)) == ("incomplete", [])


def test_an_existing_version_is_never_rewritten(work: Path) -> None:
    """The run of an existing version's config writes it only where it is intact and made of
    the stage folders this run uses; else <id>-1, -2, ..."""
    old = stage(work, "proof", "k1")
    version(work, "v-1", {"proof": old})
    assert versioning.choose_version(work / "results", "v-1", {"proof": old}) == ("v-1", {})
    # the stage was recovered elsewhere (k1 damaged, computed again under k1-1)
    chosen, stepped = versioning.choose_version(work / "results", "v-1",
                                                {"proof": "results/stages/proof/k1-1"})
    assert chosen == "v-1-1"
    assert stepped == {"v-1": ["stage proof copied from results/stages/proof/k1, now computed "
                               "in results/stages/proof/k1-1"]}
    # a damaged version is stepped over too, and a fresh name is taken
    (work / "results" / "v-1" / "tables" / "proof.csv").write_text("x\n")
    chosen, stepped = versioning.choose_version(work / "results", "v-1", {"proof": old})
    assert chosen == "v-1-1" and list(stepped) == ["v-1"]
    assert versioning.choose_version(work / "results", "v-9", {"proof": old}) == ("v-9", {})


def test_a_damaged_stage_folder_is_stepped_over_then_moved_aside_once(work: Path) -> None:
    unit_dir = Path("results/stages/proof")  # relative, as the workflow names it
    stage(work, "proof", "k1")
    assert reuse.choose_key(unit_dir, "k1", "proof", work) == ("k1", {})  # intact: reused
    (unit_dir / "k1" / "tables" / "proof.csv").write_text("edited\n")
    key, bad = reuse.choose_key(unit_dir, "k1", "proof", work)
    assert key == "k1-1"
    assert bad == {"results/stages/proof/k1": ["results/stages/proof/k1/tables/proof.csv"]}
    moved = reuse.move_aside("results/stages/proof/k1")
    assert moved == Path("results/stages/proof/damaged/k1") and moved.is_dir()
    stage(work, "proof", "k1-1")  # the stage computed again
    # later runs: the recomputed folder, no damaged one to warn about, nothing computed again
    assert reuse.choose_key(unit_dir, "k1", "proof", work) == ("k1-1", {})
    # an unfinished folder (a killed job) is resumed, not stepped over
    (unit_dir / "k2").mkdir()
    assert reuse.choose_key(unit_dir, "k2", "proof", work) == ("k2", {})


def test_a_results_folder_that_cannot_be_written_is_named(work: Path) -> None:
    assert versioning.unwritable(work / "results") == ""  # not there yet: its parent is tried
    (work / "results").write_text("a file in the way")
    assert versioning.unwritable(work / "results" / "stages").startswith(
        f"{work / 'results'}/ is not writable here")
    if os.geteuid() != 0:  # (root writes anywhere)
        (work / "ro").mkdir(mode=0o555)
        line = versioning.unwritable(work / "ro")
        assert line.startswith(f"{work / 'ro'}/ is not writable here (Permission denied)")
        assert "\n" not in line and "chmod -R u+w" in line


@pytest.mark.workflow
def test_a_damaged_version_and_stage_are_kept_and_recovered_once(tmp_path: Path) -> None:
    """Through the workflow, on the data stage alone: a succeeded partial run is `partial`;
    with a row appended to its table and its stage folder edited, the next run warns once,
    moves the stage folder aside, computes it again and writes a new version, leaving the
    damaged version byte for byte; the run after that computes nothing and warns nothing."""
    targets, env = only_stages("data")
    first = run_snakemake(tmp_path, *targets, "--configfile", str(QUICK), env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    results = tmp_path / "results"
    (old,) = [p for p in results.iterdir() if p.is_dir() and p.name != "stages"]
    index = versioning.update_index(results).set_index("version")
    assert index.loc[old.name, "status"] == "partial"
    copy = old / "tables" / "data_summary.csv"
    copy.chmod(0o644)
    with copy.open("a") as handle:
        handle.write("9,9,9\n")
    edited = copy.read_bytes()
    (key_dir,) = (results / "stages" / "data").iterdir()
    original = key_dir / "tables" / "data_summary.csv"
    original.chmod(0o644)
    original.write_text("edited\n")

    second = run_snakemake(tmp_path, *targets, "--configfile", str(QUICK), env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{key_dir.relative_to(tmp_path)} no longer matches its provenance" in second.stderr
    assert f"version results/{old.name} is left as it is" in second.stderr
    assert (results / "stages" / "data" / "damaged" / key_dir.name).is_dir()
    assert copy.read_bytes() == edited  # the damaged version is not rewritten
    index = versioning.update_index(results).set_index("version")
    assert index.loc[old.name, "status"] == "damaged"
    assert index.loc[f"{old.name}-1", "status"] == "partial"
    record = json.loads((results / f"{old.name}-1" / "provenance" / "data.json").read_text())
    assert record["stage_dir"] == f"results/stages/data/{key_dir.name}-1"
    assert not record["reused"]  # computed for the version that holds it

    third = run_snakemake(tmp_path, *targets, "--configfile", str(QUICK), env=env)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "no longer matches" not in third.stderr and "left as it is" not in third.stderr
    assert "Nothing to be done" in third.stdout + third.stderr


@pytest.mark.workflow
def test_a_results_folder_the_run_cannot_write_is_refused_in_one_line(tmp_path: Path) -> None:
    results = tmp_path / "results"
    if os.geteuid() == 0:  # root writes into a read-only folder: a file in the way instead
        results.write_text("not a folder\n")
    else:
        results.mkdir(mode=0o555)
    result = run_snakemake(tmp_path, "--configfile", str(QUICK))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("results/ is not writable here (")
    assert "chmod -R u+w results" in last
    assert "Traceback" not in result.stderr
