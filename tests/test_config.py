"""Config validation: every bad value gets a message naming the field, before any job runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import QUICK, REPO, merged_config, run_snakemake

from ols_transformer.config import ConfigError, validate_config


def test_shipped_configs_are_valid() -> None:
    validate_config(merged_config())
    validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


BAD = [
    ({"data": {"n": [-5]}}, "data.n.0", ">= 2"),
    ({"data": {"n": [100], "p": [200]}}, "data.p", "p < n"),
    ({"data": {"condition_numbers": [0.5]}}, "data.condition_numbers.0", ">= 1"),
    ({"data": {"noise_sigma": "high"}}, "data.noise_sigma", "type"),
    ({"proof": {"dtypes": ["float16"]}}, "proof.dtypes.0", "one of"),
    ({"training": {"learning_rate": -1.0}}, "training.learning_rate", "> 0"),
    ({"training": {"epochs": 0}}, "training.epochs", ">= 1"),
    ({"training": {"w0": 0}}, "training.w0", "stationary"),
    ({"training": {"seeds": []}}, "training.seeds", "at least 1"),
    ({"training": {"alignment_tol": 2.0}}, "training.alignment_tol", "< 1"),
    ({"run_name": "../escape"}, "run_name", "matching"),
    ({"trainng": {"epochs": 3}}, "<top level>", "trainng"),
]


@pytest.mark.parametrize(("override", "field", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_bad_value_is_refused_naming_field(override: dict, field: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(merged_config(override))
    message = str(info.value)
    assert f"'{field}'" in message or field in message
    assert allowed in message


@pytest.mark.parametrize("override", [BAD[0][0], BAD[1][0], BAD[5][0]],
                         ids=["negative n", "p > n", "negative learning rate"])
def test_workflow_refuses_bad_config_before_any_job(override: dict, tmp_path: Path) -> None:
    earlier = tmp_path / "results" / "earlier-000000000000" / "tables" / "kept.csv"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("a,b\n1,2\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    result = run_snakemake(tmp_path, "--configfile", str(QUICK), str(bad))
    assert result.returncode != 0
    assert "invalid config" in result.stderr and "Fix these values" in result.stderr
    assert "Select jobs to execute" not in result.stderr  # refused before scheduling
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["earlier-000000000000"]
    assert earlier.read_text() == "a,b\n1,2\n"
