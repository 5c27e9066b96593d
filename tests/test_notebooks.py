"""Stage notebooks: clean sources with a parameters cell, executed by the workflow with papermill
on the named kernel against the version's tables, showing the tables' numbers, and HTML that
loads nothing from the network."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import papermill
import pytest
import yaml
from conftest import REPO

from ols_transformer.io import read_table
from ols_transformer.notebooks import this_python_kernel

KERNEL = "ols-transformer"
# one table per stage: where the run has it, the stage's notebook must have been executed
STAGE_TABLE = {"proof": "proof_check", "nist": "nist_lre", "training": "fig1_headline",
               "shift": "covariance_shift", "hopfield": "hopfield_capacity", "icl": "icl_risk",
               "attention_regression": "ar_r2"}
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def assigned_names(source: str) -> set[str]:
    return {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def tagged(notebook: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]


def stream_text(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells
                   for output in cell.get("outputs", []) if output.output_type == "stream")


def test_notebook_sources_are_clean_and_parameterised() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {*STAGE_TABLE, "claims"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == KERNEL, path.name
        (parameters,) = tagged(notebook, "parameters")
        names = assigned_names(parameters.source)
        # table and figure paths, and for a stage notebook the stage's criteria
        assert names and all(name.endswith(("_csv", "_png")) or name == "criteria"
                             for name in names)
        assert ("criteria" in names) == (path.stem != "claims"), path.name
        # stored without outputs: results live only in the versioned copies
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), path.name


@pytest.mark.workflow
def test_workflow_executed_each_notebook_on_this_versions_tables(quick_run: Path) -> None:
    executed = sorted((quick_run / "notebooks").glob("*.ipynb"))
    stages = {"claims"} | {stage for stage, table in STAGE_TABLE.items()
                           if (quick_run / "tables" / f"{table}.csv").is_file()}
    assert stages >= {"proof", "training", "shift", "claims"}
    assert {p.stem for p in executed} == stages  # (notebooks.smk included after the stages)
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata.kernelspec.name == KERNEL
        assert notebook.metadata.papermill.exception is None
        errors = [o for cell in notebook.cells for o in cell.get("outputs", [])
                  if o.output_type == "error"]
        assert errors == [], path.name
        # papermill set every parameter of the notebook, each to a table of this version
        source = nbformat.read(REPO / "notebooks" / path.name, as_version=4)
        (defaults,) = tagged(source, "parameters")
        injected = notebook.metadata.papermill.parameters
        assert set(injected) == assigned_names(defaults.source), path.name
        for name, value in injected.items():
            if name == "criteria":  # the stage's criteria, from the version's config
                config = yaml.safe_load((quick_run / "config.resolved.yaml").read_text())
                stage = {"proof": "proof"}.get(path.stem, path.stem)
                assert value == config[stage]["criteria"], path.name
                continue
            # a file of the stage directory, whose copy this version holds
            stage_file = quick_run.parents[1] / value
            assert stage_file.is_file() and "stages" in stage_file.parts, value
            copy = quick_run / Path(value).relative_to(Path(*Path(value).parts[:4]))
            assert copy.read_bytes() == stage_file.read_bytes(), value
        if path.stem != "claims":
            images = [o for cell in notebook.cells for o in cell.get("outputs", [])
                      if "image/png" in o.get("data", {})]
            assert images, f"{path.name} shows no figure"


@pytest.mark.workflow
def test_training_notebook_prints_the_tables_numbers(quick_run: Path) -> None:
    text = stream_text(nbformat.read(quick_run / "notebooks" / "training.ipynb", as_version=4))
    head = read_table(quick_run / "tables" / "fig1_headline.csv")
    w_error = np.max(np.abs(np.abs(head.w_final) / head.w_star - 1))
    printed = float(re.search(r"w_converges_to_w_star \[all\]: (\S+) -> PASS", text)[1])
    assert printed == pytest.approx(w_error, abs=1e-15)
    # the slowest seed's alignment epoch, whatever its verdict (the readings decide the row)
    slowest = f"aligned_and_monotone [all]: {head.alignment_epoch.max()} -> "
    assert slowest in text
    assert slowest.replace(">", "&gt;") in (quick_run / "notebooks" / "training.html").read_text()


@pytest.mark.workflow
def test_html_is_self_contained(quick_run: Path) -> None:
    pages = sorted((quick_run / "notebooks").glob("*.html"))
    assert {p.stem for p in pages} == {p.stem for p in (quick_run / "notebooks").glob("*.ipynb")}
    for page in pages:
        html = page.read_text()
        assert re.search(r"<(script|img|iframe)[^>]+src=[\"']https?:", html) is None, page.name
        assert re.search(r"<link[^>]+href=[\"']https?:", html) is None, page.name
        if page.stem != "claims":
            assert "data:image/png;base64," in html, page.name


@pytest.mark.workflow
def test_claims_notebook_runs_with_papermill_on_an_edited_ledger(quick_run: Path,
                                                                tmp_path: Path) -> None:
    ledger = read_table(quick_run / "claims" / "claims.csv")
    ledger.loc[ledger.claim_id == "training.w_converges_to_w_star", "verdict"] = "FAIL"
    edited = tmp_path / "claims.csv"
    ledger.to_csv(edited, index=False)
    with this_python_kernel(KERNEL):
        notebook = papermill.execute_notebook(
            str(REPO / "notebooks" / "claims.ipynb"), str(tmp_path / "claims.ipynb"),
            parameters={"claims_csv": str(edited)}, kernel_name=KERNEL, progress_bar=False,
            cwd=str(tmp_path))
    text = stream_text(notebook)
    counts = ledger.verdict.value_counts()
    for verdict in ("PASS", "FAIL", "MISSING", "REPORTED"):
        assert f"{verdict}: {counts.get(verdict, 0)}" in text
    assert "training.w_converges_to_w_star" in text.split("not passed:")[1]


# ---- the helpers of ols_transformer.notebooks, and a notebook run by hand --------------------

def test_stage_criteria_come_from_the_parameter_the_version_or_the_checkout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ols_transformer.notebooks import find_config, stage_criteria

    given = {"rounding_constant": 8.0}
    assert stage_criteria("proof", given) == given
    version = tmp_path / "results" / "v1"
    (version / "tables").mkdir(parents=True)
    (version / "config.resolved.yaml").write_text(
        yaml.safe_dump({"proof": {"criteria": {"rounding_constant": 5.0}}}))
    monkeypatch.chdir(version)
    assert stage_criteria("proof", {}) == {"rounding_constant": 5.0}
    with pytest.raises(KeyError, match="shift.criteria"):
        stage_criteria("shift", {})
    # from a directory inside a checkout: its config/config.yaml, searched upwards
    monkeypatch.chdir(REPO / "notebooks")
    assert find_config() == REPO / "config" / "config.yaml"
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert stage_criteria("shift") == config["shift"]["criteria"]
    lonely = tmp_path / "elsewhere"
    lonely.mkdir()
    monkeypatch.chdir(lonely)
    with pytest.raises(FileNotFoundError, match="criteria"):
        stage_criteria("proof", None)


def test_a_notebook_run_by_hand_takes_the_configs_criteria(tmp_path: Path) -> None:
    """notebooks/proof.ipynb executed with papermill in a version directory, no parameter set:
    its criteria come from config.resolved.yaml (an empty 'criteria' raised KeyError before)."""
    from conftest import merged_config

    from ols_transformer.data import regression_cases
    from ols_transformer.experiments import proof
    from ols_transformer.io import write_table
    from ols_transformer.plots.common import save_figure
    from ols_transformer.plots.proof import plot_error_vs_condition

    config = merged_config()
    cases = regression_cases({"seed": 3, "noise_sigma": 0.5, "n": [30], "p": [2],
                              "condition_numbers": [1.0, 100.0]})
    table = proof.run({**config["proof"], "reference_digits": 25}, cases)
    (tmp_path / "tables").mkdir()
    (tmp_path / "figures").mkdir()
    write_table(table, tmp_path / "tables" / "proof_check.csv")
    save_figure(plot_error_vs_condition(table), tmp_path / "figures" / "fig.pdf",
                tmp_path / "figures" / "proof_error_vs_condition.png")
    (tmp_path / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    with this_python_kernel(KERNEL):
        notebook = papermill.execute_notebook(
            str(REPO / "notebooks" / "proof.ipynb"), str(tmp_path / "proof.ipynb"),
            parameters={}, kernel_name=KERNEL, progress_bar=False, cwd=str(tmp_path))
    text = stream_text(notebook)
    assert "transformer_equals_ols [all]" in text and "-> PASS" in text
    assert "invariant_to_sequence_length [all]" in text
