"""Config validation: the JSON schema, then checks across fields, with messages that name the
field, the bad value, what is allowed and how to fix it. Runs before any job starts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


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


def _cross_field_problems(config: Mapping[str, Any]) -> list[str]:
    """Checks a JSON schema cannot express."""
    problems = []
    data = config["data"]
    for n in data["n"]:
        for p in data["p"]:
            if p >= n:
                problems.append(
                    f"config fields 'data.p' = {p} and 'data.n' = {n}: OLS needs p < n "
                    "(a full-column-rank X); lower p or raise n"
                )
    return problems
