"""The Snakemake report's own pages: each table as HTML, and the landing text's generated parts.

A CSV in Snakemake's report is a download; its HTML rendering (``table_html``, written by the
rule ``tables_html``) shows in the page. The landing text (``workflow/report/workflow.rst``) and
the ledger's caption (``claims.rst``) list the report's categories and the verdicts from the
registry (``stages.REPORT_CATEGORIES``) and ``checks.VERDICT_MEANINGS``, between ``..
<name>: start`` / ``.. <name>: end`` comment lines: ``python -m ols_transformer.report``
rewrites them, ``--check`` fails where they differ (the test suite runs the check).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .checks import VERDICT_MEANINGS, VERDICTS
from .stages import REPORT_CATEGORIES, STAGES, category

REPORT_DIR = Path("workflow") / "report"
STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 1em; color: #111; background: #fff; }
h1 { font-size: 1.2em; margin: 0 0 .3em; }
p { margin: 0 0 .8em; color: #444; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { position: sticky; top: 0; background: #e8ecf1; text-align: left; }
th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
td { max-width: 40em; }  /* long texts (a claim, a quote) wrap; numbers stay on a line */
tr:nth-child(even) td { background: #f7f8fa; }
"""

# The ledger's kinds of claim (claims.Kind) in words.
KIND_MEANINGS = {
    "paper": "a claim of the paper, tested under its readings",
    "extension": "our addition beyond the paper, counted apart",
    "related": "a claim of the second paper (Goulet Coulombe), counted apart",
}


# Bytes: the report shows an HTML entry as a base64 data URL (4/3 of the page), which Chromium
# refuses over 2 MB; a longer table shows its first rows (the default run's largest: 0.7 MB).
MAX_PAGE = 1_400_000


def table_html(table: pd.DataFrame, title: str, source: str, max_bytes: int = MAX_PAGE) -> str:
    """A self-contained HTML page of ``table``: every column, numbers to 6 significant digits
    (the CSV ``source`` holds every digit), the header kept in view; every row where the page
    stays within ``max_bytes``, else as many first rows as fit, saying so."""
    rows, columns = table.shape
    texts = [name for name in table.columns if not pd.api.types.is_numeric_dtype(table[name])]
    table = table.fillna({name: "" for name in texts})  # an empty text, not NaN
    shown = rows
    while True:
        body = table.head(shown).to_html(index=False, border=0, na_rep="NaN", escape=True,
                                         float_format=lambda value: f"{value:.6g}")
        which = (f"{rows} rows" if shown == rows else
                 f"the first {shown} of {rows} rows (the page would be too long to open)")
        page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
                f"{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
                f"<h1>{html.escape(title)}</h1>\n<p>{which}, {columns} columns; numbers to 6 "
                f"significant digits, every digit and row in <code>{html.escape(source)}</code>."
                f"</p>\n{body}\n</body></html>\n")
        size = len(page.encode())
        if size <= max_bytes or shown == 0:
            return page
        shown = int(shown * max_bytes / size * 0.95)


def _items(entries: list[tuple[str, str]]) -> str:
    """An RST bullet list, wrapped at 100 characters."""
    return "\n".join(textwrap.fill(f"- {name}: {text}.", 100, subsequent_indent="  ",
                                    break_on_hyphens=False) for name, text in entries)


def categories_block() -> str:
    """The report's categories in order, each with what it holds and the stages it shows."""
    entries = []
    for title, holds in REPORT_CATEGORIES.items():
        name = category(title)
        stages = [stage.name for stage in STAGES.values() if stage.category == name]
        shown = f" (stage{'s' if len(stages) > 1 else ''} " \
                f"{', '.join(f'``{s}``' for s in stages)})" if stages else ""
        entries.append((f'**"{name}"**{shown}', holds))
    return ("The categories (left, under Results), in order:\n\n" + _items(entries))


def verdicts_block() -> str:
    """Every verdict a check or claim can have, and every kind of claim, in words."""
    if set(VERDICT_MEANINGS) != set(VERDICTS):
        raise ValueError(f"checks.VERDICT_MEANINGS names {sorted(VERDICT_MEANINGS)}, the "
                         f"verdicts are {sorted(VERDICTS)}: give each verdict its meaning")
    from .claims import Kind  # here: the table pages' job needs none of the ledger's checks

    kinds = typing.get_args(Kind)
    if set(KIND_MEANINGS) != set(kinds):
        raise ValueError(f"KIND_MEANINGS names {sorted(KIND_MEANINGS)}, claims.Kind is "
                         f"{sorted(kinds)}: give each kind its meaning")
    return ("Each claim's ``verdict`` is one of:\n\n"
            + _items([(f"``{v}``", VERDICT_MEANINGS[v]) for v in VERDICTS])
            + "\n\nand its ``kind`` one of:\n\n"
            + _items([(f"``{k}``", KIND_MEANINGS[k]) for k in kinds]))


BLOCKS: dict[str, Callable[[], str]] = {"categories": categories_block,
                                        "verdicts": verdicts_block}
# Which generated blocks each report text holds.
FILES = {"workflow.rst": ("categories", "verdicts"), "claims.rst": ("verdicts",)}


def rendered(text: str, names: tuple[str, ...], where: str) -> str:
    """``text`` with each block of ``names`` replaced by its current rendering."""
    for name in names:
        pattern = re.compile(rf"(^\.\. {name}: start\n).*?(^\.\. {name}: end$)", re.S | re.M)
        if not pattern.search(text):
            raise ValueError(f"{where} has no '.. {name}: start' ... '.. {name}: end' block: "
                             "add the two comment lines where the list belongs")
        text = pattern.sub(lambda m, r=BLOCKS[name]: f"{m.group(1)}\n{r()}\n\n{m.group(2)}",
                           text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ols_transformer.report",
        description=f"Rewrite the generated lists of {REPORT_DIR}/{{{','.join(FILES)}}} from "
                    "the registry and the verdicts.")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a text differs from the rendering")
    parser.add_argument("--root", default=".", help="the checkout (default: here)")
    args = parser.parse_args(argv)
    stale = []
    for name, blocks in FILES.items():
        path = Path(args.root) / REPORT_DIR / name
        text = path.read_text()
        new = rendered(text, blocks, str(path))
        if new != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"{', '.join(stale)} differ from the registry and the verdicts: run "
              "`python -m ols_transformer.report`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
