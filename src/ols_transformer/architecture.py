"""The package's layers, and docs/ARCHITECTURE.md's tables drawn from them and the registry.

``LAYERS`` and ``MAY_IMPORT`` are the layering rule that tests/test_layers.py enforces on every
import; ``STAGES`` (stages.py) is the list of stages. The architecture doc's two generated
blocks (between ``<!-- stages: start -->`` / ``end`` and ``<!-- layers: start -->`` / ``end``)
are rendered from them, so the doc cannot drift: ``python -m ols_transformer.architecture``
rewrites them, ``--check`` fails where they differ (the test suite runs the check).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .stages import STAGES

# Layer -> its modules (names relative to the package; "x.*" is every module under x/).
LAYERS: dict[str, tuple[str, ...]] = {
    # files, records, versions, reuse, progress lines: no numbers of the paper
    "foundation": ("", "io", "provenance", "versioning", "reuse", "progress"),
    # the paper's mathematics and its models
    "math": ("ols", "construction", "shift", "data", "nist", "hopfield_theory", "hopfield",
             "icl_theory", "icl_models", "icl_training", "attention_regression", "stats"),
    # config validation and the registry of stages: below the stages (an experiment may read
    # its section's parts)
    "config": ("config", "stages"),
    # checks read tables and return verdicts; the package's __init__ holds the Check row
    "checks base": ("checks",),
    "checks": ("checks.*",),
    # experiments compute tables
    "experiments base": ("experiments",),
    "experiments": ("experiments.*",),
    # plots take tables and return figures; plots.common holds the style
    "plots base": ("plots", "plots.common"),
    "plots": ("plots.*",),
    # the ledger and what reads versions: select checks' rows, read and copy files
    "ledger": ("claims", "overview", "compare", "reference", "notebooks", "cost", "report"),
    # entry points: the command line, the workflow scripts' run context, this doc's tables
    "top": ("cli", "stage", "architecture"),
}

# Layer -> the layers its modules may import. A layer absent from its own set is closed: its
# modules may not import one another (the stages of experiments/, checks/ and plots/ are
# siblings: what two stages share belongs a layer down).
MAY_IMPORT: dict[str, set[str]] = {
    "foundation": {"foundation"},
    "math": {"foundation", "math"},
    "config": {"foundation", "math", "config"},
    "checks base": {"foundation", "math"},
    "checks": {"foundation", "math", "checks base"},
    "experiments base": {"foundation", "math", "config"},
    "experiments": {"foundation", "math", "config", "experiments base"},
    "plots base": {"foundation", "math"},
    "plots": {"foundation", "math", "plots base"},
    "ledger": {"foundation", "math", "config", "checks base", "checks", "ledger"},
    "top": set(LAYERS),
}

PACKAGE_DIR = Path(__file__).resolve().parent
DOC = Path("docs") / "ARCHITECTURE.md"


def _module(kind: str, name: str) -> str:
    """``kind/name.py`` where the package has it, else a dash."""
    return f"`{kind}/{name}.py`" if (PACKAGE_DIR / kind / f"{name}.py").is_file() else "-"


def stages_table() -> str:
    """One row per stage of the registry: its names everywhere and what it writes."""
    rows = ["| stage | config | rules | experiment | checks | plots | notebook | upstream | "
            "tables | figures |", "|---|---|---|---|---|---|---|---|---|---|"]
    for stage in STAGES.values():
        section = stage.criteria_section
        rules = f"`{stage.name}`" + (f", `{stage.name}_part`" if stage.parts else "")
        notebook = f"`notebooks/{stage.name}.ipynb`" if stage.notebook else "-"
        rows.append(" | ".join([
            f"| `{stage.name}`", "`<section>.criteria`" if stage.name == "claims"
            else f"`{section}`", rules,
            _module("experiments", section), _module("checks", section),
            _module("plots", section), notebook,
            ", ".join(f"`{u}`" for u in stage.upstream) or "-",
            ", ".join(f"`{t}`" for t in stage.tables()) or "-",
            ", ".join(f"`{f}`" for f in stage.figures()) or "-",
        ]) + " |")
    return "\n".join(rows)


def layers_table() -> str:
    """One row per layer: its modules and the layers it may import."""
    rows = ["| layer | modules | may import |", "|---|---|---|"]
    for layer, members in LAYERS.items():
        names = ", ".join(f"`{m}`" if m else "`__init__`" for m in members)
        allowed = ", ".join(name for name in LAYERS if name in MAY_IMPORT[layer])
        rows.append(f"| {layer} | {names} | {allowed} |")
    return "\n".join(rows)


BLOCKS = {"stages": stages_table, "layers": layers_table}


def rendered(text: str) -> str:
    """``text`` with each generated block replaced by its current rendering."""
    for name, render in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}: start -->\n).*?(<!-- {name}: end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOC} has no '<!-- {name}: start -->' ... '<!-- {name}: end -->' "
                             "block: add the two markers where the table belongs")
        text = pattern.sub(lambda m, r=render: m.group(1) + r() + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ols_transformer.architecture",
        description=f"Rewrite the generated tables of {DOC} from the registry and the layers.")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if the doc differs from the rendering")
    parser.add_argument("--root", default=".", help="the checkout (default: here)")
    args = parser.parse_args(argv)
    path = Path(args.root) / DOC
    text = path.read_text()
    new = rendered(text)
    if args.check:
        if new != text:
            print(f"{path} differs from the registry and layers: run "
                  "`python -m ols_transformer.architecture`", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
