"""Stage-level reuse by content: a stage whose own inputs did not change is not computed again.

Each stage writes into ``results/stages/<stage>/<key>/``, where the key hashes what the stage
depends on and nothing else:
- the parts of the config it reads (dotted paths, e.g. ``training.sweep``);
- its code: the checkout files it runs (its rule file, script, notebook) and every module of
  the ``ols_transformer`` package its script imports, directly or through other modules (found
  by reading the imports, not by running them);
- the versions of the packages that compute (numpy, torch, pandas, ...);
- the keys of the stages whose outputs it reads.
A result version (``results/<run_name>-<hash>/``, one per config and code) then gets copies of
its stages' outputs; a stage computed for an earlier version is reused as it is, and the
version's provenance says so. Editing a notebook changes only that notebook's key; editing the
Hopfield config, only the Hopfield stage's and those that read it.

A stage directory is reused only if every output its provenance record lists still has the
recorded SHA-256. One that does not (edited or damaged) is never reused: the stage is computed
again under the next free key (``<key>-1``, ``<key>-2``, ...), and the run moves the damaged
directory aside once, into ``<stage>/damaged/`` (``move_aside``): nothing is destroyed, and
later runs reuse the recomputed directory without warning again.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .io import atomic_path, write_json, write_text
from .provenance import package_versions, sha256_file
from .versioning import package_dir

KEY_LENGTH = 16


@dataclass(frozen=True)
class StageSpec:
    """What a stage depends on (see the module docstring)."""

    files: tuple[str, ...]  # checkout files, relative to its root
    config: tuple[str, ...]  # dotted config paths
    upstream: tuple[str, ...] = ()  # stages whose outputs it reads


# ---- the package modules a script imports ---------------------------------------------------

@functools.cache
def _module_file(module: str) -> Path | None:
    """The file of ``ols_transformer.<...>`` in the imported package, or None."""
    parts = module.split(".")
    if parts[0] != package_dir().name:
        return None
    base = package_dir().joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(package_dir()).with_suffix("")
    parts = [package_dir().name, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Module names ``path`` imports (absolute, relative resolved; ``from a import b`` gives a
    and a.b, one of which is a module)."""
    stat = path.stat()
    return set(_parsed_imports(path, stat.st_mtime_ns, stat.st_size))


# Every stage's key reads the modules its script imports, and most share them: each file is
# parsed once per process (per content: keyed by its modification time and size).
@functools.cache
def _parsed_imports(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = path.is_relative_to(package_dir())
    package = _module_name(path).split(".") if inside else []
    if inside and path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not inside:
                    continue
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def package_files(scripts: Iterable[Path]) -> set[Path]:
    """Every file of the imported package that ``scripts`` import, transitively, with the
    ``__init__.py`` of each package on the way (they run on import)."""
    todo, seen = list(scripts), set()
    while todo:
        path = todo.pop()
        for module in _imports(path):
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):
                found = _module_file(".".join(parts[:depth]))
                if found is not None and found not in seen:
                    seen.add(found)
                    todo.append(found)
    return seen


# ---- keys -----------------------------------------------------------------------------------

def config_part(config: Mapping[str, Any], dotted: str) -> Any:
    """``config`` at the dotted path (a missing key is None: the key still differs)."""
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _code_sha256(path: Path) -> str:
    """sha256_file of a code file, read once per process however many stages import it."""
    stat = path.stat()
    return _hashed(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _hashed(path: Path, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def stage_key(name: str, spec: StageSpec, config: Mapping[str, Any], root: Path,
              upstream_keys: Mapping[str, str]) -> str:
    """The content hash naming the stage's directory (``KEY_LENGTH`` hex digits)."""
    files = [root / f for f in spec.files]
    scripts = [f for f in files if f.suffix == ".py"]
    code = {f.relative_to(root).as_posix(): _code_sha256(f) for f in files}
    code.update({f"{package_dir().name}/{f.relative_to(package_dir()).as_posix()}":
                 _code_sha256(f) for f in package_files(scripts)})
    payload = {"stage": name, "config": {p: config_part(config, p) for p in spec.config},
               "code": dict(sorted(code.items())), "packages": package_versions(),
               "upstream": {s: upstream_keys[s] for s in spec.upstream}}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def damaged(stage_dir: Path, stage: str, workdir: Path) -> list[str]:
    """Outputs of a finished stage directory whose SHA-256 differs from its provenance record
    (or that are gone); empty when it is intact, or not finished (no record yet)."""
    record_path = stage_dir / "provenance" / f"{stage}.json"
    if not record_path.is_file():
        return []
    record = json.loads(record_path.read_text())
    return [o["path"] for o in record.get("outputs", [])
            if not (workdir / o["path"]).is_file()
            or sha256_file(workdir / o["path"]) != o["sha256"]]


DAMAGED_DIR = "damaged"  # under results/stages/<unit>/: damaged directories, moved aside


def finished(stage_dir: Path, stage: str) -> bool:
    return (stage_dir / "provenance" / f"{stage}.json").is_file()


def choose_key(unit_dir: Path, base: str, stage: str, workdir: Path
               ) -> tuple[str, dict[str, list[str]]]:
    """(the key of the directory ``stage`` uses under ``unit_dir``, its damaged directories
    with their damaged outputs). Among ``base``, ``base-1``, ``base-2``, ... the first finished
    and intact one (reused), else the first unfinished one (resumed), else the first free
    name: never a damaged one, whether or not the one before it was moved aside."""
    pattern = re.compile(rf"^{re.escape(base)}(?:-(\d+))?$")
    existing = sorted((int(m.group(1) or 0), p.name) for p in
                      (unit_dir.iterdir() if unit_dir.is_dir() else ())
                      if p.is_dir() and (m := pattern.match(p.name)))
    bad: dict[str, list[str]] = {}
    unfinished = None
    for _, name in existing:
        if found := damaged(unit_dir / name, stage, workdir):
            bad[(unit_dir / name).as_posix()] = found
        elif finished(unit_dir / name, stage):
            return name, bad
        elif unfinished is None:
            unfinished = name
    if unfinished is not None:
        return unfinished, bad
    taken = {attempt for attempt, _ in existing}
    attempt = next(a for a in range(len(taken) + 1) if a not in taken)
    return (base if attempt == 0 else f"{base}-{attempt}"), bad


def stage_keys(specs: Mapping[str, StageSpec], config: Mapping[str, Any], root: Path,
               stages_dir: Path, workdir: Path
               ) -> tuple[dict[str, str], dict[str, dict[str, list[str]]]]:
    """(stage -> key of the directory it uses, stage -> {damaged directory it steps over: its
    damaged outputs}). Upstream stages first; a stage's key depends on its upstream keys."""
    keys: dict[str, str] = {}
    skipped: dict[str, dict[str, list[str]]] = {}
    pending = dict(specs)
    while pending:
        ready = [s for s, spec in pending.items() if all(u in keys for u in spec.upstream)]
        if not ready:
            raise ValueError(f"stages {sorted(pending)} depend on unknown or circular stages")
        for name in ready:
            base = stage_key(name, pending.pop(name), config, root, keys)
            keys[name], bad = choose_key(stages_dir / name, base, name, workdir)
            if bad:
                skipped[name] = bad
    return keys, skipped


def move_aside(stage_dir: str | Path) -> Path:
    """Move a damaged stage directory into ``<unit>/damaged/`` (a free name there), so that
    it is kept, never reused, and warned about once; returns where it went."""
    stage_dir = Path(stage_dir)
    target_dir = stage_dir.parent / DAMAGED_DIR
    target_dir.mkdir(exist_ok=True)
    target, n = target_dir / stage_dir.name, 0
    while target.exists():
        n += 1
        target = target_dir / f"{stage_dir.name}.{n}"
    stage_dir.rename(target)
    return target


def link_record(stage_record: Mapping[str, Any], version: str, stage_dir: str,
                copies: Mapping[str, str]) -> dict[str, Any]:
    """A version's provenance record of one stage: the stage's own record, and whether the
    outputs were computed for this version or reused from the one named."""
    computed_for = str(stage_record.get("version", ""))
    return {**stage_record, "version": version, "stage_dir": stage_dir,
            "computed_for_version": computed_for, "reused": computed_for != version,
            "copies": dict(copies)}


def copy_stage(stage: str, sources: list[str], targets: list[str], record: str,
               version_record: str, version: str, log: str) -> None:
    """Copy a stage's outputs into a version directory (new files: the copies are the version's
    own, and newer than its inputs), the stage's own log beside them, then, last, the version's
    provenance record of the stage (``link_record``); ``log`` says what was copied."""
    stage_dir = Path(record).parent.parent  # results/stages/<stage>/<key>/provenance/...
    lines = []
    for source, target in zip(sources, targets, strict=True):
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        lines.append(f"{source} -> {target}")
    stage_log = stage_dir / "logs" / f"{stage}.log"
    if stage_log.is_file():
        with atomic_path(Path(log).parent / stage_log.name) as tmp:
            shutil.copyfile(stage_log, tmp)
    stage_record = json.loads(Path(record).read_text())
    version_copy = link_record(stage_record, version, stage_dir.as_posix(),
                               dict(zip(sources, targets, strict=True)))
    write_json(version_copy, version_record)
    reused = f"reused from version {version_copy['computed_for_version']}" \
        if version_copy["reused"] else "computed for this version"
    write_text(f"stage {stage}: {reused}\n" + "\n".join(lines) + "\n", log)

