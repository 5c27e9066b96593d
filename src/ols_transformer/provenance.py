"""Provenance records: what produced a file, from which config, code and packages."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGES = (
    "numpy", "pandas", "matplotlib", "torch", "snakemake", "papermill", "jsonschema",
    "ols-transformer",
)


@functools.cache  # looked up once per process: every stage key reads them (27 per parse)
def _installed_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    return {"python": platform.python_version(), **{name: _installed_version(name)
                                                     for name in names}}


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_records(paths: Iterable[str]) -> list[dict[str, str]]:
    return [
        {"path": str(p), "sha256": sha256_file(p)}
        for p in paths
        if Path(p).is_file()
    ]


def record(
    *,
    stage: str,
    config: Mapping[str, Any],
    version: str,
    code_sha256: str,
    git: Mapping[str, Any],
    inputs: Iterable[str] = (),
    outputs: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready provenance record. Only 'created' varies between identical runs."""
    return {
        "stage": stage,
        "version": version,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": dict(config),
        "code_sha256": code_sha256,
        "git": dict(git),
        "packages": package_versions(),
        "platform": {"system": platform.platform(), "python": sys.version.split()[0],
                     "executable": sys.executable},
        # Where the code that ran was imported from (an editable checkout or an installed copy).
        "package_dir": str(Path(__file__).resolve().parent),
        "inputs": file_records(inputs),
        "outputs": file_records(outputs),
        **(dict(extra) if extra else {}),
    }
