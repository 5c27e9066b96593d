"""Result versions: a version names one (config, code) pair and is never rewritten.

A version's copies are checked against the SHA-256 its stages recorded (``version_damage``)
before it is listed complete or reused; a version that no longer matches, or whose stages were
computed again elsewhere (a damaged stage directory recovered), is left as it is and the run
writes ``<version>-1`` (``choose_version``).

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
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import write_table
from .provenance import sha256_file

if TYPE_CHECKING:
    import pandas as pd

# Files of the checkout whose content defines "the code version" (relative to its root) ...
WORKFLOW_GLOBS = ("Snakefile", "workflow/**/*.smk", "workflow/**/*.py", "notebooks/*.ipynb")
# ... and of the imported package (relative to its directory).
PACKAGE_GLOBS = ("**/*.py", "*.yaml", "datasets/**/*.csv", "datasets/**/*.md")
VERSION_MARKER = "provenance/run.json"
# The version a run writes, as its submitting process chose it (choose_version), for its jobs.
VERSION_ENV = "OLS_TRANSFORMER_VERSION"


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


def _records(version_dir: Path) -> dict[str, dict[str, Any] | None]:
    """Unit -> the version's provenance record of it (None where it is not valid JSON)."""
    records: dict[str, dict[str, Any] | None] = {}
    for path in sorted((version_dir / "provenance").glob("*.json")):
        if path.name == Path(VERSION_MARKER).name:
            continue
        try:
            records[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            records[path.stem] = None
    return records


def _in_version(target: str, version_dir: Path) -> Path:
    """A copy's path as the workflow wrote it (results/<version>/tables/x.csv, relative to its
    working directory), inside ``version_dir`` wherever that is now."""
    parts = Path(target).parts
    if version_dir.name in parts:
        return version_dir.joinpath(*parts[parts.index(version_dir.name) + 1:])
    return version_dir / target


def version_damage(version_dir: str | os.PathLike[str]) -> list[str]:
    """The files of a version whose bytes differ from what their stage recorded, one line
    each ('tables/x.csv: SHA-256 differs from provenance/shift.json'), or that are gone; empty
    for an intact version (and for one whose records name no copies, such as a snapshot)."""
    version_dir = Path(version_dir)
    problems = []
    for unit, record in _records(version_dir).items():
        if record is None:
            problems.append(f"provenance/{unit}.json: not valid JSON")
            continue
        recorded = {o["path"]: o["sha256"] for o in record.get("outputs", [])}
        for source, target in record.get("copies", {}).items():
            copy = _in_version(target, version_dir)
            rel = copy.relative_to(version_dir).as_posix()
            if not copy.is_file():
                problems.append(f"{rel}: missing (listed in provenance/{unit}.json)")
            elif source in recorded and sha256_file(copy) != recorded[source]:
                problems.append(f"{rel}: SHA-256 differs from provenance/{unit}.json")
    return problems


def version_status(version_dir: str | os.PathLike[str]) -> tuple[str, list[str]]:
    """(status, damaged files) of a version directory: ``damaged`` where a copy no longer
    matches its provenance (``version_damage``); else ``complete`` once its claims ledger
    exists; ``partial`` where the run chose some stages (config ``stages``) and every one of
    them was copied; else ``incomplete`` (running, failed or killed)."""
    version_dir = Path(version_dir)
    damage = version_damage(version_dir)
    if damage:
        return "damaged", damage
    if (version_dir / "claims" / "claims.csv").is_file():
        return "complete", []
    try:
        config = json.loads((version_dir / VERSION_MARKER).read_text()).get("config", {})
    except (OSError, ValueError):
        config = {}
    chosen = [str(unit) for unit in config.get("stages") or []]
    records = _records(version_dir)
    if chosen and all(records.get(unit) for unit in chosen):
        return "partial", []
    return "incomplete", []


def choose_version(results_dir: str | os.PathLike[str], version: str,
                   stage_dirs: Mapping[str, str]) -> tuple[str, dict[str, list[str]]]:
    """(the version directory name this run writes, the names it stepped over with why).

    ``version`` itself unless its directory exists and is damaged (``version_damage``) or holds
    a unit copied from another stage directory than ``stage_dirs`` (unit -> the directory this
    run uses: a damaged stage directory was recovered elsewhere), which this run would rewrite;
    then ``<version>-1``, ``-2``, ...: an existing version is never rewritten."""
    results_dir = Path(results_dir)
    stepped: dict[str, list[str]] = {}
    candidate, attempt = version, 0
    while (results_dir / candidate).is_dir():
        problems = version_damage(results_dir / candidate)
        for unit, record in _records(results_dir / candidate).items():
            if record and unit in stage_dirs and record.get("stage_dir") != stage_dirs[unit]:
                problems.append(f"stage {unit} copied from {record.get('stage_dir')}, now "
                                f"computed in {stage_dirs[unit]}")
        if not problems:
            break
        stepped[candidate] = problems
        attempt += 1
        candidate = f"{version}-{attempt}"
    return candidate, stepped


def unwritable(results_dir: str | os.PathLike[str]) -> str:
    """Why a run cannot write under ``results_dir`` (or the folder that would hold it), one
    line with the fix; '' where it can. Tried by writing, so a read-only mount, permissions and
    a file in the way all count."""
    path = Path(results_dir)
    where = path if path.exists() else path.parent
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as error:
        return (f"{where}/ is not writable here ({error.strerror or error}): make it writable "
                f"(chmod -R u+w {where}) or run in another directory (snakemake --directory "
                "DIR); nothing was run")
    return ""


def newest_version(results: Path, run_name: str | None) -> Path | None:
    """The newest version directory under ``results`` (by its run record's creation time,
    then name), of the run ``run_name`` where given; None if there is none."""
    found = []
    for record in results.glob(f"*/{VERSION_MARKER}"):
        version = record.parent.parent
        try:
            run = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        named = str(run.get("config", {}).get("run_name", ""))
        if run_name is None or named == run_name:
            found.append((str(run.get("created", "")), version.name, version))
    return max(found)[2] if found else None


def update_index(results_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Rebuild ``results/versions.csv`` from the version directories on disk.

    The index is derived, never edited in place, so it cannot drift from what is on disk, even
    after a failed or killed run: a version's status is ``version_status``'s (complete,
    partial, incomplete or damaged, its damaged files in ``damaged``).
    """
    import pandas as pd

    results_dir = Path(results_dir)
    rows = []
    for marker in sorted(results_dir.glob(f"*/{VERSION_MARKER}")):
        version_dir = marker.parent.parent
        record = json.loads(marker.read_text())
        status, damage = version_status(version_dir)
        rows.append(
            {
                "version": version_dir.name,
                "run_name": record.get("config", {}).get("run_name", ""),
                "created": record.get("created", ""),
                "git_commit": record.get("git", {}).get("commit", ""),
                "code_sha256": record.get("code_sha256", "")[:12],
                "status": status,
                "damaged": "; ".join(damage),
            }
        )
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    if rows:
        write_table(index.sort_values("created", kind="stable"), results_dir / "versions.csv")
    return index


INDEX_COLUMNS = ["version", "run_name", "created", "git_commit", "code_sha256", "status",
                 "damaged"]
