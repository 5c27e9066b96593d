"""Result versions: a version names one (config, code) pair and is never rewritten.

The version id is a hash of the resolved config and of the code that produces the results
(the workflow and notebooks of the checkout, and the ``ols_transformer`` package the workflow
imports, wherever it is installed), so a change of either writes a new ``results/<version>/``.
Git is recorded in provenance but not needed for the id (a tarball of the code works too).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import write_table

if TYPE_CHECKING:
    import pandas as pd

# Files of the checkout whose content defines "the code version" (relative to its root) ...
WORKFLOW_GLOBS = ("Snakefile", "workflow/**/*.smk", "workflow/**/*.py", "notebooks/*.ipynb")
# ... and of the imported package (relative to its directory).
PACKAGE_GLOBS = ("**/*.py", "*.yaml", "datasets/**/*.csv", "datasets/**/*.md")
VERSION_MARKER = "provenance/run.json"


@functools.cache
def package_dir() -> Path:
    """The directory of the ``ols_transformer`` package this process imports."""
    return Path(__file__).resolve().parent


def code_files(root: str | os.PathLike[str]) -> dict[str, Path]:
    """Name -> file of every code file: the checkout's workflow and notebooks under ``root``
    (names relative to it) and the imported package's modules and data (``ols_transformer/...``)."""
    root, package = Path(root), package_dir()
    files = {p.relative_to(root).as_posix(): p for pattern in WORKFLOW_GLOBS
             for p in root.glob(pattern) if p.is_file()}
    files.update({f"{package.name}/{p.relative_to(package).as_posix()}": p
                  for pattern in PACKAGE_GLOBS for p in package.glob(pattern)
                  if p.is_file() and "__pycache__" not in p.parts})
    return dict(sorted(files.items()))


def code_fingerprint(root: str | os.PathLike[str]) -> str:
    """SHA-256 over the names and bytes of ``code_files(root)``."""
    digest = hashlib.sha256()
    for name, path in code_files(root).items():
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def package_mismatch(root: str | os.PathLike[str]) -> list[str]:
    """Package files that differ between the checkout's ``src/ols_transformer`` and the package
    this process imports (empty when they are the same directory, or the checkout has none):
    running the checkout's workflow on a stale install would hide the checkout's code."""
    source = Path(root) / "src" / package_dir().name
    package = package_dir()
    if not source.is_dir() or source.resolve() == package:
        return []
    names = {p.relative_to(base).as_posix() for base in (source, package)
             for pattern in PACKAGE_GLOBS for p in base.glob(pattern)
             if p.is_file() and "__pycache__" not in p.parts}
    return sorted(n for n in names if not (source / n).is_file() or not (package / n).is_file()
                  or (source / n).read_bytes() != (package / n).read_bytes())


def config_fingerprint(config: Mapping[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def version_id(config: Mapping[str, Any], root: str | os.PathLike[str]) -> str:
    """``<run_name>-<12 hex>``: readable, and unique per (config, code)."""
    both = hashlib.sha256((config_fingerprint(config) + code_fingerprint(root)).encode())
    name = str(config.get("run_name", "run"))
    return f"{name}-{both.hexdigest()[:12]}"


def git_state(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Commit and dirty flag of the repository at ``root``; 'unknown' outside git."""
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def update_index(results_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Rebuild ``results/versions.csv`` from the version directories on disk.

    The index is derived, never edited in place, so it cannot drift from what is on disk, even
    after a failed or killed run: a version is 'complete' once its claims ledger exists.
    """
    import pandas as pd

    results_dir = Path(results_dir)
    rows = []
    for marker in sorted(results_dir.glob(f"*/{VERSION_MARKER}")):
        version_dir = marker.parent.parent
        record = json.loads(marker.read_text())
        rows.append(
            {
                "version": version_dir.name,
                "run_name": record.get("config", {}).get("run_name", ""),
                "created": record.get("created", ""),
                "git_commit": record.get("git", {}).get("commit", ""),
                "code_sha256": record.get("code_sha256", "")[:12],
                "status": "complete" if (version_dir / "claims" / "claims.csv").is_file()
                else "incomplete",
            }
        )
    index = pd.DataFrame(
        rows, columns=["version", "run_name", "created", "git_commit", "code_sha256", "status"]
    )
    if rows:
        write_table(index.sort_values("created", kind="stable"), results_dir / "versions.csv")
    return index
