"""Same config and seed, same tables: every stage's scripts (workflow/scripts, part jobs and
gathers included) run twice in-process on a tiny config, and every table they write is
compared byte for byte. A table holds results only: no timing, host or date (those go to the
cost table and the logs)."""

from __future__ import annotations

import copy
import importlib
import pkgutil
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, merged_config
from snakemake.iocontainers import Namedlist

from ols_transformer import plots
from ols_transformer import stages as registry
from ols_transformer.plots import common as plots_common
from ols_transformer.reuse import config_part
from ols_transformer.versioning import version_id

# Smaller than quick.yaml: each stage's every code path, in seconds.
TINY: dict[str, Any] = {
    "run_name": "tiny",
    "data": {"condition_numbers": [1.0, 100.0], "replicates": 2},
    "training": {"seeds": [0, 1], "epochs": 200, "endpoint": {"epochs": 100},
                 "sweep": {"learning_rates": [1.0e-2], "w0": [0.1], "x_scales": [1.0],
                           "n": [50], "seeds": [0], "epochs": 200}},
    "shift": {"seeds": [0, 1], "n_train": 60, "context_sizes": [20, 50],
              "families": {"isotropic_scale": [1.0, 2.0], "anisotropic": [0.0, 2.0],
                           "rotation": [0.0, 90.0], "mean_shift": [0.0, 2.0]}},
    "hopfield": {"seeds": [0, 1], "n_cues": 10},
    # icl: the 5 seeds config validation asks for (stats.MIN_REPLICATES), little work each.
    "icl": {"context_sizes": [8], "depths": [1], "seeds": [0, 1, 2, 3, 4], "steps": 20,
            "eval_every": 10, "test_tasks": 40, "validation_tasks": 20, "norm_depths": [],
            "designs": ["softmax"],
            "sensitivity": {"depths": [1], "context_sizes": [8], "seeds": [0, 1, 2, 3, 4],
                            "steps": [10], "inits": []},
            "shift": {"context_size": 8,
                      "families": {"isotropic_scale": [1.0, 4.0], "anisotropic": [0.0, 4.0],
                                   "rotation": [0.0, 90.0], "mean_shift": [0.0, 4.0],
                                   "task_scale": [1.0, 4.0]}}},
    "attention_regression": {"designs": ["linear"], "variants": ["paper"], "sizes": [30],
                             "replicates": 2, "n_test": 50, "steps": 2, "rf_trees": 5,
                             "gbm_trees": 5, "mlp": {"max_epochs": 5},
                             "nw_bandwidths": [0.1, 0.3],
                             "identity": {"n": 20, "queries": 5, "condition_numbers": [1.0]},
                             "optimisation": {"n": 20, "targets": [5], "seeds": [0]}},
}
PLOT_MODULES = [f"ols_transformer.plots.{m.name}" for m in pkgutil.iter_modules(plots.__path__)
                if m.name != "common"]
# A column that would make two identical runs differ (a timing, a host, a date), or two runs
# of one config on two machines (the device a job found: cpu here, cuda on a GPU node).
NOT_A_RESULT = re.compile(r"(^|_)(seconds|secs?|time|elapsed|wall|duration|host|hostname|"
                          r"date|created|timestamp|pid|device)($|_)", re.IGNORECASE)


def tiny_config() -> dict[str, Any]:
    config = merged_config(TINY)
    runs = config["hopfield"]["runs"]
    config["hopfield"]["runs"] = {
        name: {**runs[name], "N": runs[name]["N"][:2]} for name in
        ("ols_attention", "linear_attention", "classical", "classical_amit", "softmax")}
    return config


def handed(config: dict[str, Any], paths: tuple[str, ...], section: str | None) -> dict:
    """The config slice a rule hands its job (common.smk's ``stage_config``)."""
    part: dict[str, Any] = {}
    for dotted in paths:
        *parents, leaf = dotted.split(".")
        node = part
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = copy.deepcopy(config_part(config, dotted))
    return part if section is None else part.get(section, {})


def named(files: dict[str, Any]) -> Namedlist:
    """Snakemake's named file list: a flat list, each name over its file(s)."""
    flat = Namedlist()
    for name, value in files.items():
        start = len(flat)
        flat.extend(value if isinstance(value, list) else [value])
        flat._set_name(name, start, len(flat) if isinstance(value, list) else None)
    return flat


class Job:
    """What a workflow script sees as ``snakemake`` (the fields StageRun and the scripts
    read)."""

    def __init__(self, config: dict, rule: str, cfg: dict, inputs: dict, outputs: dict,
                 log: str, wildcards: dict, part: dict | None = None) -> None:
        self.config, self.rule, self.threads = config, rule, 1
        self.scriptdir = str(REPO / "workflow" / "scripts")
        self.input, self.output = named(inputs), named(outputs)
        self.log = named({"log": log})
        self.wildcards = named(wildcards)
        self.params = type("Params", (), {"cfg": cfg, "part": part})()


def run_stages(config: dict[str, Any], root: Path) -> dict[str, bytes]:
    """Every stage's scripts in the workflow's order, outputs under ``root``; the bytes of
    every table (and the data stage's arrays) written (relative path -> bytes)."""
    specs = registry.specs(config, lambda folder: [])
    written: dict[str, str] = {}  # table name -> path (the ledger's inputs)

    def script(name: str, smk: Job) -> None:
        runpy.run_path(str(REPO / "workflow" / "scripts" / f"{name}.py"),
                       init_globals={"snakemake": smk}, run_name="__main__")

    for stage in registry.STAGES.values():
        section = stage.criteria_section
        unit_dir = root / "stages" / stage.name
        part_dirs = []
        for job, part in registry.parts(stage.name, config).items():
            unit = registry.part_stage(stage.name, job)
            out = root / "stages" / unit
            part_dirs.append(str(out / "parts"))
            script(f"{stage.name}_part", Job(
                config, f"{stage.name}_part", handed(config, specs[unit].config, section), {},
                {"parts": str(out / "parts"), "provenance": str(out / "provenance.json")},
                str(out / "log"), {"part": job, "key": "0"}, dict(part.params)))
        inputs: dict[str, Any] = {}
        if part_dirs:
            inputs["parts"] = part_dirs
        for upstream in stage.upstream:
            for output in registry.STAGES[upstream].outputs:
                key = output.name if stage.name == "claims" else output.key
                if output.kind != "figure":
                    inputs[key] = str(root / "stages" / upstream / output.path)
        outputs: dict[str, Any] = {}
        for output in stage.outputs:
            path = str(unit_dir / output.path)
            if output.kind == "figure":
                outputs.update({f"{output.key}_pdf": f"{path}.pdf",
                                f"{output.key}_png": f"{path}.png"})
            else:
                outputs[output.key] = path
                if output.kind == "table":
                    written[output.name] = path
        outputs["provenance"] = str(unit_dir / "provenance.json")
        script(stage.name, Job(config, stage.name,
                               handed(config, specs[stage.name].config,
                                      None if stage.name in ("data", "claims") else section),
                               inputs, outputs, str(unit_dir / "log"), {}))
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.suffix in (".csv", ".npz")}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], ...]:
    config = tiny_config()
    work = tmp_path_factory.mktemp("determinism")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)  # StageRun looks for results/<version>, which a run creates first
        (work / "results" / version_id(config, REPO)).mkdir(parents=True)
        # Figures are not tables, and drawing them is a third of a tiny stage's time: every
        # plot function draws nothing, and nothing is saved.
        patch.setattr(plots_common, "save_figure", lambda *args, **kwargs: None)
        for module in map(importlib.import_module, PLOT_MODULES):
            for name in [n for n in vars(module) if n.startswith("plot_")]:
                patch.setattr(module, name, lambda *args, **kwargs: None)
            if hasattr(module, "figures"):
                patch.setattr(module, "figures", lambda *args, **kwargs: {})
        return tuple(run_stages(config, work / f"run{i}") for i in (1, 2))


@pytest.mark.parametrize("stage", list(registry.STAGES))
def test_two_runs_write_identical_tables(stage: str,
                                         two_runs: tuple[dict[str, bytes], ...]) -> None:
    first, second = two_runs
    assert set(first) == set(second)
    mine = [name for name in first if Path(name).parts[1] == stage
            or Path(name).parts[1].startswith(f"{stage}_")
            and stage in registry.STAGES and registry.STAGES[stage].parts]
    expected = {f"{name}.csv" for name in registry.STAGES[stage].tables()}
    assert expected <= {Path(name).name for name in mine}  # every table of the stage ran
    for name in mine:
        assert first[name] == second[name], f"{name} differs between two identical runs"


def test_no_table_has_a_timing_host_or_date_column(
        two_runs: tuple[dict[str, bytes], ...]) -> None:
    for name, content in two_runs[0].items():
        if not name.endswith(".csv"):
            continue
        header = content.split(b"\n", 1)[0].decode().split(",")
        assert not [c for c in header if NOT_A_RESULT.search(c)], name


def test_the_timing_pattern_catches_what_it_must() -> None:
    assert all(NOT_A_RESULT.search(c) for c in ("seconds", "fit_seconds", "host", "created",
                                                 "device"))
    assert not any(NOT_A_RESULT.search(c) for c in ("steps", "timestep_count", "r2_test",
                                                     "threshold", "alignment_epoch"))
