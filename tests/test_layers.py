"""The package's layers (docs/ARCHITECTURE.md, "Layers"): every import of every module, read
from its source with ast (imports inside functions included), goes down a layer, never up and
never sideways. A module missing from the map fails too: a new module is placed on purpose."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from conftest import REPO

from ols_transformer import architecture, stages

PACKAGE = "ols_transformer"
SOURCE = REPO / "src" / PACKAGE

# The layers and what each may import live in the package (architecture.py), which also draws
# docs/ARCHITECTURE.md's layer table from them.
LAYERS = architecture.LAYERS
MAY_IMPORT = architecture.MAY_IMPORT

def module_name(path: Path, root: Path) -> str:
    """'checks.icl' for root/checks/icl.py, 'checks' for root/checks/__init__.py."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _is_module(name: str, known: Mapping[str, Path]) -> bool:
    return name in known


def imports(name: str, path: Path, known: Mapping[str, Path], package: str = PACKAGE) -> set[str]:
    """The package's modules that ``name`` (at ``path``) imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join([package, *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # 'from x import y' imports module x.y when y is a module, else a name of x.
            targets = [f"{module}.{a.name}" if _is_module(
                f"{module}.{a.name}".removeprefix(package).lstrip("."), known) else module
                for a in node.names]
        else:
            continue
        for target in targets:
            if target == package or target.startswith(package + "."):
                found.add(target.removeprefix(package).lstrip("."))
    found.discard(name)
    return found


def layer_of(name: str, layers: Mapping[str, tuple[str, ...]] = LAYERS) -> str | None:
    """The layer listing ``name`` by name, else by the nearest 'x.*' pattern."""
    for layer, members in layers.items():
        if name in members:
            return layer
    for layer, members in layers.items():
        for member in members:
            if member.endswith(".*") and name.startswith(member[:-1]):
                return layer
    return None


def violations(root: Path, layers: Mapping[str, tuple[str, ...]] = LAYERS,
               may_import: Mapping[str, set[str]] = MAY_IMPORT,
               package: str = PACKAGE) -> Iterator[tuple[str, str, str]]:
    """(importer, imported, why) for every import that goes up or sideways."""
    known = modules(root)
    for name, path in known.items():
        own = layer_of(name, layers)
        for target in sorted(imports(name, path, known, package)):
            theirs = layer_of(target, layers)
            if own is None or theirs is None:
                continue  # reported by test_every_module_has_a_layer
            if theirs not in may_import[own]:
                kind = "sideways" if theirs == own else "up or across"
                yield name, target, f"{own} -> {theirs} ({kind})"


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(name or "__init__" for name in modules(SOURCE) if layer_of(name) is None)
    assert unplaced == [], f"give these modules a layer in tests/test_layers.py: {unplaced}"


def test_no_upward_or_sideways_import() -> None:
    found = [f"{a} imports {b}: {why}" for a, b, why in violations(SOURCE)]
    assert found == [], "imports against the layers (docs/ARCHITECTURE.md):\n" + "\n".join(found)


def test_config_does_not_import_a_stage_check() -> None:
    known = modules(SOURCE)
    assert not {m for m in imports("config", known["config"], known)
                if m.split(".")[0] in ("checks", "experiments", "plots")}


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A package 'toy' laid out like ours, with one import of each kind."""
    root = tmp_path / "toy"
    files = {
        "__init__.py": "",
        "io.py": "def read(): from .plots import common\n",  # up, inside a function
        "ols.py": "from .io import read\n",  # down: fine
        "checks/__init__.py": "from ..ols import read\n",  # down: fine
        "checks/a.py": "from . import Check\nfrom .b import x\n",  # base fine, b sideways
        "checks/b.py": "import toy.experiments.a\n",  # across, absolute
        "experiments/__init__.py": "",
        "experiments/a.py": "from .. import checks\n",  # across
        "plots/__init__.py": "",
        "plots/common.py": "",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_checker_finds_upward_and_sideways_imports(toy: Path) -> None:
    found = {(a, b) for a, b, _ in violations(toy, package="toy")}
    assert found == {("io", "plots.common"), ("checks.a", "checks.b"),
                     ("checks.b", "experiments.a"), ("experiments.a", "checks")}


def test_architecture_doc_is_drawn_from_the_registry_and_the_layers() -> None:
    doc = (REPO / architecture.DOC).read_text()
    assert architecture.rendered(doc) == doc, (
        "docs/ARCHITECTURE.md's tables differ from stages.py / architecture.py: run "
        "`python -m ols_transformer.architecture`")


def test_the_doc_check_fails_on_a_stale_table(tmp_path: Path) -> None:
    """An edited table is found (the check compares, it does not only look for markers)."""
    doc = tmp_path / architecture.DOC
    doc.parent.mkdir(parents=True)
    stale = (REPO / architecture.DOC).read_text().replace("| `proof` |", "| `proof_check` |", 1)
    doc.write_text(stale)
    assert architecture.main(["--check", "--root", str(tmp_path)]) == 1
    assert architecture.main(["--root", str(tmp_path)]) == 0
    assert architecture.main(["--check", "--root", str(tmp_path)]) == 0
    assert "| `proof` |" in doc.read_text()


def test_each_stage_is_named_alike_everywhere() -> None:
    """Rule file, script, notebook and stage modules carry the stage's (section's) name."""
    for stage in stages.STAGES.values():
        assert (REPO / stage.rule_file).is_file(), stage.rule_file
        assert (REPO / stage.script).is_file(), stage.script
        if stage.parts:
            assert (REPO / stage.part_script).is_file(), stage.part_script
        if stage.notebook:
            assert (REPO / "notebooks" / f"{stage.name}.ipynb").is_file(), stage.name
        names = {p.stem for kind in ("experiments", "checks", "plots")
                 for p in (SOURCE / kind).glob("*.py") if p.stem != "__init__"}
        stray = names - {s.criteria_section for s in stages.STAGES.values()} - {"common"}
        assert not stray, f"stage modules named after no stage: {sorted(stray)}"


def test_the_ledger_judges_the_registry_s_ledger_stages() -> None:
    from ols_transformer import claims

    assert set(claims.STAGES) == set(stages.LEDGER_STAGES)


def test_pydocstyle_covers_the_math_layer() -> None:
    """pyproject.toml's ruff exempts every module from the missing-docstring rules (D1) except
    the math layer's: the list there is this map's math layer, no more and no less."""
    text = (REPO / "pyproject.toml").read_text()
    found = re.findall(r'^"!src/ols_transformer/\{([\w,]+)\}\.py" = \["D1"\]$', text, re.M)
    assert len(found) == 1, "one negated per-file-ignore of D1 in pyproject.toml"
    assert sorted(found[0].split(",")) == sorted(LAYERS["math"])
