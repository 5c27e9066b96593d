"""Config validation: every bad value gets a message naming the field, before any job runs."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from conftest import QUICK, REPO, deep_merged, default_config_with, merged_config, run_snakemake

from ols_transformer.config import (
    SHIFT_MIN_CONTEXT_SIZES,
    ConfigError,
    cuda_visible,
    device_problems,
    load_config_file,
    load_schema,
    validate_config,
)


def test_shipped_configs_are_valid() -> None:
    validate_config(merged_config())
    validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


# case -> (override merged over the quick config, field named in the message, text of the fix)
BAD = {
    "negative n": ({"data": {"n": [-5]}}, "data.n.0", ">= 2"),
    "p > n": ({"data": {"n": [100], "p": [200]}}, "data.p", "p < n"),
    "condition number < 1": ({"data": {"condition_numbers": [0.5]}},
                             "data.condition_numbers.0", ">= 1"),
    "noise not a number": ({"data": {"noise_sigma": "high"}}, "data.noise_sigma", "type"),
    "float16": ({"proof": {"dtypes": ["float16"]}}, "proof.dtypes.0", "one of"),
    "negative learning rate": ({"training": {"learning_rate": -1.0}},
                               "training.learning_rate", "> 0"),
    "zero epochs": ({"training": {"epochs": 0}}, "training.epochs", ">= 1"),
    "w0 = 0": ({"training": {"w0": 0}}, "training.w0", "stationary"),
    "no seeds": ({"training": {"seeds": []}}, "training.seeds", "at least 1"),
    "alignment tol > 1": ({"training": {"alignment_tol": 2.0}}, "training.alignment_tol", "< 1"),
    "run name escapes": ({"run_name": "../escape"}, "run_name", "matching"),
    "unknown section": ({"trainng": {"epochs": 3}}, "trainng", "did you mean 'training'?"),
    "unknown parameterisation": ({"training": {"parameterisation": "eq7"}},
                                 "training.parameterisation", "one of"),
    "context size <= p": ({"shift": {"context_sizes": [50, 3]}}, "shift.context_sizes",
                          "must exceed p"),
    "n_train <= p + 3": ({"shift": {"n_train": 5}}, "shift.n_train", "must exceed p + 3"),
    "NaN noise": ({"data": {"noise_sigma": float("nan")}}, "data.noise_sigma", "finite"),
    "infinite beta": ({"training": {"beta": float("inf")}}, "training.beta", "finite"),
    "rho N not an integer": ({"hopfield": {"runs": {"classical": {"N": [50, 51]}}}},
                             "hopfield.runs.classical.N", "rho N is not an integer"),
    "rho N not an integer at a run's rho": (
        {"hopfield": {"runs": {"classical_amit": {"N": [100, 110]}}}},
        "hopfield.runs.classical_amit.N", "rho N is not an integer (rho = 0.05)"),
    "unknown model": ({"hopfield": {"runs": {"x": {"model": "hebbian", "N": [50]}}}},
                      "hopfield.runs.x.model", "hebbian"),
    "temperature <= 0": ({"hopfield": {"runs": {"softmax": {"beta": 0.0}}}},
                         "hopfield.runs.softmax.beta", "beta"),
    "temperature on a model without one": ({"hopfield": {"runs": {"classical": {"beta": 1.0}}}},
                                           "hopfield.runs.classical.beta", "no temperature"),
    "field past float64's exact integers": (
        {"hopfield": {"runs": {"poly4": {"N": [20, 2000]}}}}, "hopfield.runs.poly4.N",
        "past float64's exact integers"),
    "one_update not a boolean": (
        {"hopfield": {"runs": {"softmax": {"one_update": "yes"}}}},
        "hopfield.runs.softmax.one_update", "boolean"),
    "tolerance scales without 1": (
        {"hopfield": {"criteria": {"tolerance_scales": [0.5, 2.0]}}},
        "hopfield.criteria.tolerance_scales", "must include 1"),
    "same-memory factor <= 1": ({"hopfield": {"criteria": {"same_memory_factor": 1.0}}},
                                "hopfield.criteria.same_memory_factor", "> 1"),
    "empty slope range": ({"proof": {"criteria": {"sigma_route_slope_min": 3.0}}},
                          "proof.criteria", "range is empty"),
    "rounding constant 0": ({"proof": {"criteria": {"rounding_constant": 0.0}}},
                            "proof.criteria.rounding_constant", "0"),
    "an origin without its why": ({"proof": {"criteria_origin": {"qr_slope_max": "ours"}}},
                                  "proof.criteria_origin.qr_slope_max", "<origin>: <why>"),
    "an origin not among theory, literature, paper, ours": (
        {"shift": {"criteria_origin": {"noise_band": "chosen: by us"}}},
        "shift.criteria_origin.noise_band", "theory, literature, paper, ours"),
    "an origin for no criterion": ({"nist": {"criteria_origin": {"digits": "ours: x"}}},
                                   "nist.criteria_origin.digits", "names no criterion"),
    "a sweep without the stated learning rate": (
        {"training": {"learning_rate": 5.0e-3}}, "training.sweep.learning_rates",
        "must contain the stated value"),
    # A run's name names its jobs (rule hopfield_<run>): refused where Snakemake could not take it
    "run name not an identifier": (
        {"hopfield": {"runs": {"poly-3": {"model": "poly3", "N": [20]}}}},
        "hopfield.runs.poly-3", "rename it, e.g. 'poly_3'"),
    "run name escapes a directory": (
        {"hopfield": {"runs": {"../x": {"model": "poly3", "N": [20]}}}}, "hopfield.runs.../x",
        "Python identifier"),
    "own job off the grid": ({"hopfield": {"runs": {"poly3": {"own_jobs": [320]}}}},
                             "hopfield.runs.poly3.own_jobs", "not in the run's N grid"),
    "N in own_jobs and seed_jobs": (
        {"hopfield": {"runs": {"poly3": {"own_jobs": [160], "seed_jobs": [160]}}}},
        "hopfield.runs.poly3.seed_jobs", "also in own_jobs"),
    "job names collide": ({"hopfield": {"runs": {"classical": {"own_jobs": [50]},
                                                 "classical_N50": {"model": "classical",
                                                                   "N": [50]}}}},
                          "hopfield.runs.classical_N50", "also a job of run classical"),
    "shared job name not an identifier": (
        {"hopfield": {"runs": {"poly3": {"job": "light-runs"}}}}, "hopfield.runs.poly3.job",
        "does not match"),
    "shared job takes another run's own job": (
        {"hopfield": {"runs": {"classical": {"own_jobs": [50]},
                               "poly3": {"job": "classical_N50"}}}},
        "hopfield.runs.poly3", "also a job of run classical"),
    "ICL context below d + 2": ({"icl": {"context_sizes": [4, 16], "shift": {"context_size": 16}}},
                                "icl.context_sizes", "d + 2"),
    "ICL without one layer": ({"icl": {"depths": [2, 3]}}, "icl.depths", "1"),
    "ICL learning rate 0": ({"icl": {"learning_rate": 0.0}}, "icl.learning_rate", "0"),
    "ICL NaN noise": ({"icl": {"noise_sigma": float("nan")}}, "icl.noise_sigma", "finite"),
    "ICL shift on an unknown Lambda": ({"icl": {"shift": {"lambda": "skewed"}}},
                                       "icl.shift.lambda", "name one of icl.lambdas"),
    "ICL shift at an N off the grid": ({"icl": {"shift": {"context_size": 12}}},
                                       "icl.shift.context_size", "one of icl.context_sizes"),
    "ICL family without its no-shift value": (
        {"icl": {"shift": {"families": {"rotation": [0.5, 1.0]}}}},
        "icl.shift.families.rotation", "no-shift value 0"),
    "ICL scale factor <= 0": ({"icl": {"shift": {"families": {"task_scale": [-1.0, 1.0]}}}},
                              "icl.shift.families.task_scale", "> 0"),
    "ICL smallest > largest": ({"icl": {"lambdas": {"anisotropic": {"smallest": 2.0}}}},
                               "icl.lambdas.anisotropic", "smallest <= largest"),
    # rules refused only when the icl job started, before config.icl_problems held them all
    "ICL eval_every past the step cap": ({"icl": {"eval_every": 2000}}, "icl.eval_every",
                                         "at most icl.steps (1500)"),
    "ICL sensitivity with two seeds": ({"icl": {"sensitivity": {"seeds": [0, 1]}}},
                                       "icl.sensitivity.seeds", "at least 5"),
    # a row decided by a t interval needs stats.MIN_REPLICATES (5) independent replicates
    "ICL four seeds": ({"icl": {"seeds": [0, 1, 2, 3]}}, "icl.seeds", "at least 5 distinct"),
    "three training seeds": ({"training": {"seeds": [0, 1, 2]}}, "training.seeds",
                             "list 5 or more"),
    "four shift seeds": ({"shift": {"seeds": [0, 1, 2, 3]}}, "shift.seeds", "at least 5"),
    "three Hopfield seeds": ({"hopfield": {"seeds": [0, 1, 2]}}, "hopfield.seeds",
                             "list 5 or more"),
    "three data draws": ({"data": {"replicates": 3}}, "data.replicates", "set it to 5"),
    "ICL one restart": ({"icl": {"restarts": 1}}, "icl.restarts", "at least 2"),
    "ICL tolerance 0": ({"icl": {"tolerance": 0.0}}, "icl.tolerance", "0 < t < 1"),
    "ICL sensitivity off the main grid's N": (
        {"icl": {"sensitivity": {"context_sizes": [8, 12]}}}, "icl.sensitivity.context_sizes",
        "not in icl.context_sizes"),
    "ICL sensitivity without one layer": ({"icl": {"sensitivity": {"depths": [2]}}},
                                          "icl.sensitivity.depths", "include 1"),
    # values that ran and then judged nothing, or trivially (issue 34)
    "shift family without its no-shift value": (
        {"shift": {"families": {"rotation": [15.0, 30.0]}}}, "shift.families.rotation",
        "include the no-shift value 0"),
    "shift scale family without 1": ({"shift": {"families": {"isotropic_scale": [0.5, 2.0]}}},
                                     "shift.families.isotropic_scale", "no-shift value 1"),
    "shift with 4 context sizes": ({"shift": {"context_sizes": [20, 50, 100, 200]}},
                                   "shift.context_sizes", "at least 5 context sizes"),
    "attention_regression with 1 replicate": ({"attention_regression": {"replicates": 1}},
                                              "attention_regression.replicates", "at least 2"),
    "attention_regression without variants": ({"attention_regression": {"variants": []}},
                                              "attention_regression.variants",
                                              "name at least one of paper"),
    "optimisation n = p": ({"attention_regression": {"optimisation": {"n": 5, "p": 5}}},
                           "attention_regression.optimisation.n", "at least optimisation.p + 2"),
    "learning rate 1e-3, a string to YAML 1.1": ({"training": {"learning_rate": "1e-3"}},
                                                 "training.learning_rate", "write it with a dot, "
                                                                           "1.0e-3"),
    "sweep rate 3e-4 in a list": ({"training": {"sweep": {"learning_rates": [1.0e-3, "3e-4"]}}},
                                  "training.sweep.learning_rates.1", "3.0e-4"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_value_is_refused_naming_field(case: str) -> None:
    override, field, allowed = BAD[case]
    with pytest.raises(ConfigError) as info:
        validate_config(merged_config(override))
    message = str(info.value)
    assert f"'{field}'" in message or field in message
    assert allowed in message


# Through the workflow (common.smk validates before any job), one run per kind of check: the
# schema (a nested unknown key), and the cross-field rules of config.py with an icl rule (both
# reported by one run); every case's message is checked in-process above.
@pytest.mark.parametrize("case", ["schema: unknown key", "cross-field and icl"])
def test_workflow_refuses_bad_config_before_any_job(case: str, tmp_path: Path) -> None:
    """A bad config: refused before any job is scheduled, naming each bad field, and nothing
    of the earlier results touched; the problem lines alone, no traceback, nothing else of the
    config (a run, not a dry run: what a user starts)."""
    earlier = tmp_path / "results" / "earlier-000000000000" / "tables" / "kept.csv"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("a,b\n1,2\n")
    bad = tmp_path / "bad.yaml"
    if case == "schema: unknown key":
        bad.write_text("training:\n  epocs: 3\n")
        problems = ["  - config key 'training.epocs' is not a known key of 'training'; did you "
                    "mean 'training.epochs'?"]
    else:
        override = deep_merged(copy.deepcopy(BAD["p > n"][0]),
                               copy.deepcopy(BAD["ICL context below d + 2"][0]))
        # the sensitivity grid's N within the new grid, so that only the two problems show
        override["icl"]["sensitivity"] = {"context_sizes": [16]}
        bad.write_text(yaml.safe_dump(override))
        problems = [f"  - config fields '{BAD['p > n'][1]}' = 200",
                    f"  - config field '{BAD['ICL context below d + 2'][1]}' = [4, 16]"]
    result = run_snakemake(tmp_path, "--configfile", str(QUICK), str(bad))
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    start = lines.index("invalid config:")
    shown = lines[start + 1:start + 1 + len(problems)]
    assert all(line.startswith(problem) for line, problem in zip(shown, problems, strict=True))
    if case == "schema: unknown key":
        assert shown == problems  # the whole line: the key, the closest known key
    assert lines[start + 1 + len(problems)].startswith("Fix these values")
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr
    assert "learning_rate" not in result.stderr  # nothing of the config's sections
    assert "Select jobs to execute" not in result.stderr  # refused before scheduling
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["earlier-000000000000"]
    assert earlier.read_text() == "a,b\n1,2\n"


def problems(override: dict) -> list[str]:
    """The problem lines of the ConfigError ``override`` (merged over quick) raises."""
    with pytest.raises(ConfigError) as info:
        validate_config(merged_config(override))
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid config:" and lines[-1].startswith("Fix these values")
    return [line.removeprefix("  - ") for line in lines[1:-1]]


# An unknown key: one line, its path, the closest known key, and nothing of the config (the
# schema validator's own message prints the whole enclosing section).
@pytest.mark.parametrize(("override", "line"), [
    ({"hopfeild": {"rho": 0.1}},
     "config key 'hopfeild' is not a known key of the top level; did you mean 'hopfield'?"),
    ({"training": {"epocs": 3}},
     "config key 'training.epocs' is not a known key of 'training'; did you mean "
     "'training.epochs'?"),
    ({"icl": {"shift": {"families": {"rotaton": [0.0]}}}},
     "config key 'icl.shift.families.rotaton' is not a known key of 'icl.shift.families'; "
     "did you mean 'icl.shift.families.rotation'?"),
])
def test_unknown_key_is_named_with_the_closest_known_key(override: dict, line: str) -> None:
    assert problems(override) == [line]


def test_unknown_key_without_a_close_one_lists_the_known_keys() -> None:
    assert problems({"training": {"zzz": 1}}) == [
        "config key 'training.zzz' is not a known key of 'training'; known keys: "
        + ", ".join(load_schema()["properties"]["training"]["properties"])]


def test_long_values_are_left_out_of_messages() -> None:
    name = "bad name/" * 30
    (line,) = problems({"run_name": name})
    assert line.startswith("config field 'run_name': ") and "bad name/" not in line
    (line,) = problems({"training": [1, 2]})  # short: shown
    assert line.startswith("config field 'training' = [1, 2]: ")


def test_missing_field_is_named() -> None:
    config = merged_config()
    del config["training"]["epochs"]
    with pytest.raises(ConfigError, match=r"config field 'training\.epochs' is missing; add it"):
        validate_config(config)


def test_a_criterion_without_an_origin_is_refused_naming_the_field() -> None:
    for section in ("proof", "nist", "training", "shift", "hopfield", "icl",
                    "attention_regression"):
        config = merged_config()
        name = next(iter(config[section]["criteria"]))
        assert name in config[section]["criteria_origin"]  # every shipped criterion has one
        del config[section]["criteria_origin"][name]
        with pytest.raises(ConfigError, match=rf"'{section}\.criteria_origin\.{name}' is "
                           rf"missing: criterion '{section}\.criteria\.{name}' has no origin"):
            validate_config(config)


def test_config_origins_are_the_checks_origins() -> None:
    from ols_transformer import checks
    from ols_transformer.config import CRITERION_ORIGINS

    assert CRITERION_ORIGINS == checks.ORIGINS


def test_config_readme_describes_every_option() -> None:
    """config/README.md has a row for every field of config.yaml (and every criterion)."""
    readme = (REPO / "config" / "README.md").read_text()
    named = {part for quoted in re.findall(r"`([^`]+)`", readme)
             for part in re.split(r"[ .,/<>]+", quoted) if part}
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    fields = {key for key in config}
    for section in config.values():
        if isinstance(section, dict):
            fields |= set(section)
            fields |= set(section.get("criteria", {}))
    assert fields - named == set()


@pytest.mark.parametrize("overlay", ["quick.yaml", "large.yaml", "other_seeds.yaml"])
def test_every_shipped_config_validates(overlay: str) -> None:
    """The config files users are pointed to, merged over the defaults as Snakemake merges
    them, pass validation (a stale key in one would stop its run before any job)."""
    validate_config(default_config_with(REPO / "config" / overlay))


def test_other_seeds_changes_only_seeds() -> None:
    """config/other_seeds.yaml is the default with its seeds changed and nothing else: every
    leaf it sets is a seed (or the run's name)."""
    def leaves(node: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in node.items():
            path = f"{prefix}{key}"
            out += leaves(value, f"{path}.") if isinstance(value, dict) else [path]
        return out

    overlay = yaml.safe_load((REPO / "config" / "other_seeds.yaml").read_text())
    for path in leaves(overlay):
        key = path.split(".")[-1]
        assert path == "run_name" or key in ("seed", "seeds") or key.endswith("_seed"), path


def test_w0_zero_reads_as_words() -> None:
    (line,) = problems({"training": {"w0": 0}})
    assert line == ("config field 'training.w0' = 0: 0 is not allowed here; note: w = 0 is a "
                    "stationary point of the loss")


def test_shift_minimum_is_the_checks() -> None:
    from ols_transformer.checks.shift import MIN_CONTEXT_SIZES
    assert SHIFT_MIN_CONTEXT_SIZES == MIN_CONTEXT_SIZES


def test_cuda_without_a_gpu_is_named_with_the_fix() -> None:
    config = merged_config({"icl": {"device": "cuda"}, "hopfield": {"device": "cuda"}})
    assert device_problems(config, visible=False) == [
        f"config field '{field}' = 'cuda': no CUDA device is visible on this machine; set it to "
        "auto (cuda where there is one) or cpu, or run on a node with a GPU (the SLURM profile "
        "asks for one)" for field in ("hopfield.device", "icl.device")]
    assert device_problems(config, visible=True) == []
    # nothing asks for cuda: torch is not even asked (visible=None would import it)
    assert device_problems(merged_config(), visible=None) == []


@pytest.mark.skipif(cuda_visible(), reason="this machine has a GPU: device: cuda is valid here")
def test_a_local_run_with_cuda_and_no_gpu_is_refused_before_any_job(tmp_path: Path) -> None:
    """Refused once the executor is known (onstart), before any job and before the version
    folder exists; one line per field, no traceback."""
    cuda = tmp_path / "cuda.yaml"
    cuda.write_text("icl:\n  device: cuda\n")
    result = run_snakemake(tmp_path, "--configfile", str(QUICK), str(cuda))
    assert result.returncode != 0
    assert "  - config field 'icl.device' = 'cuda': no CUDA device is visible" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_config_files_name_the_file_and_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """What Snakemake says of a bad --configfile ('not valid JSON or YAML', or a bare
    FileNotFoundError), `ols-transformer config` says with the file and line."""
    from ols_transformer import cli

    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epochs: 3\n   seeds: [1\n")
    with pytest.raises(ConfigError, match=rf"config file {re.escape(str(bad))}, line 3, "
                                          r"column 9: not valid YAML"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match=r"config file nope\.yaml does not exist"):
        load_config_file("nope.yaml")
    with pytest.raises(SystemExit, match=r"line 3"):
        cli.main(["config", str(bad)])
    good = tmp_path / "good.yaml"
    good.write_text("training:\n  epochs: 30\n")
    assert cli.main(["config", "--defaults", str(REPO / "config" / "config.yaml"),
                     str(QUICK), str(good)]) == 0
    assert capsys.readouterr().out.startswith("config valid: ")
    rate = tmp_path / "rate.yaml"
    rate.write_text("training:\n  learning_rate: 1e-3\n")
    with pytest.raises(SystemExit, match=r"write it with a dot, 1\.0e-3"):
        cli.main(["config", "--defaults", str(REPO / "config" / "config.yaml"), str(rate)])
