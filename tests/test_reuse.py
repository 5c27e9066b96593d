"""Reuse by content: a stage whose config part, code and upstream stages did not change is not
computed again; the version's provenance says what was reused and from where."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import QUICK, REPO, merged_config, part_jobs, run_snakemake

from ols_transformer import reuse, versioning

pytestmark = pytest.mark.workflow
VERSION_COPIES = re.compile(r"^(version|run_record|cost|tables_html|all)$")


def planned_jobs(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> set[str]:
    """The rules `snakemake -n` would run (not counting the version copy and the cost table)."""
    result = run_snakemake(workdir, "-n", "--snakefile", str(snakefile), "--configfile",
                           str(QUICK), *args)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE)
    return {rule for rule, _ in counts if rule != "total" and not VERSION_COPIES.match(rule)}


@pytest.fixture()
def run_copy(quick_run: Path, tmp_path: Path) -> Path:
    """A copy of the quick run's working directory (its stage directories included)."""
    workdir = tmp_path / "work"
    shutil.copytree(quick_run.parents[1], workdir, symlinks=True)
    return workdir


def test_editing_a_notebook_reruns_only_that_notebook(run_copy: Path,
                                                      scratch_repo_copy: Path) -> None:
    notebook = scratch_repo_copy / "notebooks" / "training.ipynb"
    notebook.write_text(notebook.read_text().replace("Figure 1: Adam", "Figure 1 - Adam"))
    assert planned_jobs(run_copy, snakefile=scratch_repo_copy / "Snakefile") == {
        "notebook_training"}


def test_editing_the_hopfield_config_reruns_no_other_stage(run_copy: Path) -> None:
    changed = run_copy / "hopfield.yaml"
    changed.write_text(yaml.safe_dump({"hopfield": {"n_cues": 30}}))
    jobs = planned_jobs(run_copy, str(changed))
    # every Hopfield part job (n_cues is in each part's key), the gather, the ledger and the
    # Hopfield and claims notebooks
    parts = set(part_jobs("hopfield", merged_config()))
    assert jobs == {*parts, "hopfield", "claims", "notebook_hopfield", "notebook_claims"}
    assert not jobs & {"data", "proof", "training", "training_sweep", "shift"}


def test_a_job_is_handed_only_what_its_key_covers(run_copy: Path) -> None:
    """training.epochs is part of the training stages' keys, not the data stage's: the data
    rule hands its job only the keyed parts (params: cfg=stage_config), so Snakemake's params
    trigger does not re-run it in its finished (write-protected) stage directory."""
    changed = run_copy / "epochs.yaml"
    changed.write_text(yaml.safe_dump({"training": {"epochs": 1400}}))
    jobs = planned_jobs(run_copy, str(changed))
    assert {"training", "training_sweep"} <= jobs
    assert not jobs & {"data", "proof", "shift", "hopfield", "icl"}


def test_a_new_version_reuses_every_stage_and_says_so(quick_run: Path, run_copy: Path) -> None:
    other = run_copy / "other.yaml"
    other.write_text(yaml.safe_dump({"run_name": "other"}))
    result = run_snakemake(run_copy, "--configfile", str(QUICK), str(other))
    assert result.returncode == 0, result.stderr[-3000:]
    (version,) = (run_copy / "results").glob("other-*")
    records = {p.stem: json.loads(p.read_text()) for p in (version / "provenance").glob("*.json")
               if p.stem != "run"}
    assert set(records) == {p.stem for p in (quick_run / "provenance").glob("*.json")} - {"run"}
    for stage, record in records.items():
        assert record["reused"] and record["computed_for_version"] == quick_run.name, stage
        assert record["version"] == version.name
        # the copies are the first version's files, byte for byte
        for source, target in record["copies"].items():
            assert (run_copy / target).read_bytes() == (run_copy / source).read_bytes()
            assert (quick_run / Path(target).relative_to(Path(target).parts[0],
                                                          version.name)).is_file()
    assert "reused from version" in (version / "logs" / "version_hopfield.log").read_text()


def test_a_stage_key_follows_its_own_code_and_config_only(
        scratch_repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shift stage's key changes with a module its script imports (shift.py) and with its
    config section; not with the Hopfield code or config."""
    package = scratch_repo_copy / "src" / "ols_transformer"
    monkeypatch.setattr(versioning, "package_dir", lambda: package)
    monkeypatch.setattr(reuse, "package_dir", lambda: package)
    spec = reuse.StageSpec(("workflow/rules/shift.smk", "workflow/scripts/shift.py"), ("shift",))
    imported = {p.relative_to(package).as_posix()
                for p in reuse.package_files([scratch_repo_copy / spec.files[1]])}
    assert {"experiments/shift.py", "shift.py", "construction.py", "checks/shift.py",
            "stage.py", "io.py"} <= imported
    assert not imported & {"hopfield.py", "experiments/hopfield.py", "experiments/training.py"}
    config = merged_config()

    def key(cfg: dict) -> str:
        return reuse.stage_key("shift", spec, cfg, scratch_repo_copy, {})

    first = key(config)
    (package / "hopfield.py").write_text((package / "hopfield.py").read_text() + "\n# edit\n")
    assert key({**config, "hopfield": {}}) == first
    (package / "shift.py").write_text((package / "shift.py").read_text() + "\n# edit\n")
    assert key(config) != first
    assert key({**config, "shift": {**config["shift"], "p": 4}}) != key(config)
