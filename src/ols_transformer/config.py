"""Config validation: the JSON schema, then checks across fields, with messages that name the
field, the bad value, what is allowed and how to fix it. Runs before any job starts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .checks import icl as icl_checks
from .hopfield_theory import exact_dtype

# Package data (workflow/schemas/config.schema.yaml links here), so an installed package has it.
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the fix."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def _field(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _allowed(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    parts = []
    for key, text in (
        ("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
        ("exclusiveMaximum", "< {}"), ("enum", "one of {}"), ("type", "of type {}"),
        ("minItems", "at least {} items"), ("pattern", "matching {}"),
    ):
        if key in schema:
            parts.append(text.format(schema[key]))
    return ", ".join(parts)


def validate_config(config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` listing every invalid field of ``config``."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors:
        allowed = _allowed(error)
        messages.append(
            f"config field '{_field(error)}' = {error.instance!r}: {error.message}"
            + (f" (allowed: {allowed})" if allowed else "")
            + (f"; note: {error.schema['description']}"
               if isinstance(error.schema, Mapping) and "description" in error.schema else "")
        )
    if not errors:
        messages = _cross_field_problems(config)
    if messages:
        raise ConfigError(
            "invalid config:\n  - " + "\n  - ".join(messages)
            + f"\nFix these values in your config file (schema: {schema_path})."
        )


def _non_finite(value: Any, path: str) -> list[str]:
    """Every NaN or infinite number in the config, by field (JSON schema lets them through:
    NaN fails no comparison, so 'minimum' cannot catch it)."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items()
                for p in _non_finite(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _non_finite(item, f"{path}.{i}")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config field '{path}' = {value!r}: must be a finite number"]
    return []


def data_problems(data: Mapping[str, Any]) -> list[str]:
    return [f"config fields 'data.p' = {p} and 'data.n' = {n}: OLS needs p < n (a "
            "full-column-rank X); lower p or raise n"
            for n in data["n"] for p in data["p"] if p >= n]


def shift_problems(shift: Mapping[str, Any]) -> list[str]:
    """Sizes the covariance-shift study needs: invertible second moments (m > p, n_train > p)
    and the inverse-Wishart moments of its sampling theory (n_train > p + 3)."""
    p, n = int(shift["p"]), int(shift["n_train"])
    problems = []
    if n <= p + 3:
        problems.append(f"config field 'shift.n_train' = {n}: must exceed p + 3 = {p + 3} "
                        f"(shift.p = {p}) for the sampling theory; raise it or lower shift.p")
    small = [m for m in shift["context_sizes"] if m <= p]
    if small:
        problems.append(f"config field 'shift.context_sizes' has {small} <= shift.p = {p}: "
                        "every context size m must exceed p (Sigma_te must be invertible)")
    return problems


def hopfield_problems(hopfield: Mapping[str, Any]) -> list[str]:
    """Per run: the cue noise flips exactly rho N bits, so rho N must be an integer on its grid;
    a softmax temperature only for softmax; and no M up to max_patterns may take an integer
    field past float64's exact integers (2^53)."""
    problems = []
    for name, run in hopfield["runs"].items():
        field = f"hopfield.runs.{name}"
        rho = float(run.get("rho", hopfield["rho"]))
        bad = [N for N in run["N"] if abs(rho * N - round(rho * N)) > 1e-9]
        if bad:
            problems.append(f"config field '{field}.N' has {bad}, where rho N is not an "
                            f"integer (rho = {rho:g}); choose N that are multiples of 1 / rho")
        if "beta" in run and run["model"] != "softmax":
            problems.append(f"config field '{field}.beta' is set, but model {run['model']} has "
                            "no temperature; remove it")
        M = int(hopfield["max_patterns"])
        inexact = [N for N in run["N"] if exact_dtype(run["model"], int(N), M) is None]
        if inexact:
            problems.append(f"config field '{field}.N' has {inexact}, where {M} patterns "
                            f"(hopfield.max_patterns) of model {run['model']} take the field "
                            "past float64's exact integers (2^53); lower N or max_patterns")
    scales = hopfield["criteria"]["tolerance_scales"]
    if 1.0 not in [float(x) for x in scales]:
        problems.append(f"config field 'hopfield.criteria.tolerance_scales' = {scales}: must "
                        "include 1 (the chosen tolerances themselves); add 1")
    return problems


def _range_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for section, low, high in (("proof", "sigma_route_slope_min", "sigma_route_slope_max"),
                               ("hopfield", "linear_slope_min", "linear_slope_max")):
        crit = config[section]["criteria"]
        if crit[low] > crit[high]:
            problems.append(f"config fields '{section}.criteria.{low}' = {crit[low]} and "
                            f"'{section}.criteria.{high}' = {crit[high]}: the range is empty")
    return problems


def _cross_field_problems(config: Mapping[str, Any]) -> list[str]:
    """Checks a JSON schema cannot express."""
    problems = _non_finite(config, "")
    if problems:
        return problems
    return (data_problems(config["data"]) + shift_problems(config["shift"])
            + hopfield_problems(config["hopfield"]) + icl_checks.config_problems(config["icl"])
            + _range_problems(config))
