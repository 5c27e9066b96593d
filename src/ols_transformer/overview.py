"""What ``ols-transformer versions`` and ``show`` print: the index of result versions with each
one's verdict counts, and one version's claims ledger as a plain-text table for a terminal.

Reads files only (``results/versions.csv``, ``<version>/claims/claims.csv``); judges nothing.
Ledgers written before a column existed or was renamed (``measured`` -> ``estimate``,
``origin`` -> ``threshold_origin``; ``ci_low``, ``decided_by``, ``holds_where``, ...) still
display (``claims.normalised``): the missing cells are empty. ``show`` fits the terminal's
width: the text columns (where it holds, what decides it) are cut, marked with "...", and left
out (then the kind too) where cutting is not enough; the claim id is never cut.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .claims import interval_cell, normalised, where_cell
from .io import read_table
from .versioning import version_status

if TYPE_CHECKING:
    import pandas as pd

# the verdicts `versions` counts (INCONCLUSIVE apart from PASS: undecided is never a pass)
COUNTED = ("PASS", "FAIL", "CONDITIONAL", "INCONCLUSIVE", "MISSING")
INDEX = "versions.csv"
LEDGER = Path("claims") / "claims.csv"
SHOW_COLUMNS = ("claim", "kind", "estimate [95% CI]", "verdict", "decided_by", "holds_where")
# Columns ``show`` may cut to fit the terminal, the first cut first; never narrower than this.
# The claim id is never cut: it is what a reader looks up.
SHRINKABLE = ("decided_by", "holds_where")
# Columns ``show`` leaves out, in this order, where cutting the ones above is not enough.
DROPPABLE = ("decided_by", "holds_where", "kind")
MIN_WIDTH = 12
ELLIPSIS = "..."
# ANSI SGR codes per verdict: green, red, yellow, cyan, magenta; REPORTED stays plain.
COLOURS: Mapping[str, str] = {"PASS": "32", "FAIL": "31", "CONDITIONAL": "33",
                              "INCONCLUSIVE": "36", "MISSING": "35"}


def read_ledger(version: Path) -> pd.DataFrame:
    """``version``'s ``claims/claims.csv``, with the columns newer ledgers add filled in."""
    path = version / LEDGER
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the run of {version.name} has not finished "
                                "(or recompute it: ols-transformer claims VERSION)")
    return normalised(read_table(path))


def verdict_counts(ledger: pd.DataFrame) -> dict[str, int]:
    """How many rows of the ledger have each of ``COUNTED``."""
    tally = ledger["verdict"].value_counts()
    return {verdict: int(tally.get(verdict, 0)) for verdict in COUNTED}


def versions_table(results: Path) -> pd.DataFrame:
    """``results/versions.csv`` with one column per verdict of ``COUNTED``: each version's
    counts from its ledger (empty cells where it has none, e.g. an unfinished run), and its
    status and damaged files as its folder is now (``versioning.version_status``)."""
    index_file = results / INDEX
    if not index_file.is_file():
        raise FileNotFoundError(f"{index_file} is missing: no run has written results there "
                                "(run snakemake, or give --results DIR)")
    index = read_table(index_file)
    # Each version's status as its folder is now (its copies checked against their
    # provenance): a table edited since the index was written shows as damaged.
    now = [version_status(results / name) if (results / name).is_dir() else ("gone", [])
           for name in index["version"].astype(str)]
    index["status"] = [status for status, _ in now]
    index["damaged"] = ["; ".join(damage) for _, damage in now]
    counts: list[Mapping[str, Any]] = []
    for name in index["version"].astype(str):
        version = results / name
        counts.append(verdict_counts(read_ledger(version)) if (version / LEDGER).is_file()
                      else dict.fromkeys(COUNTED, ""))
    for verdict in COUNTED:
        index[verdict] = [row[verdict] for row in counts]
    return index


def show_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger's columns ``show`` prints, as text: the claim id, its kind, the estimate
    with its 95% interval (3 significant digits), the verdict, what decides it and where it
    holds (with the share)."""
    import pandas as pd

    ledger = normalised(ledger)
    rows = [{"claim": row.claim_id, "kind": row.kind,
             "estimate [95% CI]": interval_cell(row, 3), "verdict": row.verdict,
             "decided_by": str(row.decided_by), "holds_where": where_cell(row)}
            for row in ledger.itertuples(index=False)]
    return pd.DataFrame(rows, columns=list(SHOW_COLUMNS))


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if math.isnan(number) else f"{number:.4g}"


def _cell(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def paint(text: str, verdict: str) -> str:
    """``text`` in ``verdict``'s ANSI colour (unchanged for a verdict without one)."""
    code = COLOURS.get(verdict)
    return f"\033[{code}m{text}\033[0m" if code else text


def fit_widths(columns: Sequence[str], widths: Sequence[int], width: int | None,
               shrinkable: Sequence[str] = SHRINKABLE) -> list[int]:
    """Column widths whose line (two spaces between columns) fits in ``width`` characters:
    the ``shrinkable`` columns are narrowed, the first as far as needed (to ``MIN_WIDTH``)
    before the next; unchanged where it fits already or ``width`` is None."""
    out = list(widths)
    if width is None:
        return out
    excess = _line_width(out) - width
    for name in shrinkable:
        if excess <= 0:
            break
        if name in columns:
            i = list(columns).index(name)
            cut = min(excess, max(out[i] - MIN_WIDTH, 0))
            out[i] -= cut
            excess -= cut
    return out


def _line_width(widths: Sequence[int]) -> int:
    return sum(widths) + 2 * (len(widths) - 1)


def fit_columns(columns: Sequence[str], widths: Sequence[int], width: int | None
                ) -> tuple[list[str], list[int]]:
    """(the columns kept, their widths) so that a line fits in ``width``: the text columns
    narrowed first (``fit_widths``), then, while that is not enough, ``DROPPABLE`` left out in
    order. The claim id, the estimate and the verdict are never cut: narrower than these, a
    line is longer than ``width``."""
    kept, natural = list(columns), list(widths)
    fitted = fit_widths(kept, natural, width)
    for name in DROPPABLE:
        if width is None or _line_width(fitted) <= width:
            break
        if name in kept:
            i = kept.index(name)
            del kept[i], natural[i]
            fitted = fit_widths(kept, natural, width)
    return kept, fitted


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def format_table(table: pd.DataFrame, colour: bool = False,
                 right: Sequence[str] = (), width: int | None = None) -> str:
    """``table`` as aligned plain text, a header and a rule; ``right``: right-aligned columns.
    With ``colour``, a ``verdict`` column's cells are painted, padded by their plain
    length, so the escape codes never shift the alignment. With ``width`` (a terminal's), the
    text columns of ``SHRINKABLE`` are cut, and those of ``DROPPABLE`` left out where cutting
    is not enough, so each line fits (``fit_columns``); a last line names what was left out."""
    columns = [str(c) for c in table.columns]
    cells = [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    natural = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    kept, widths = fit_columns(columns, natural, width)
    dropped = [c for c in columns if c not in kept]
    index = [columns.index(c) for c in kept]
    cells = [[_cut(r[i], w) for i, w in zip(index, widths, strict=True)] for r in cells]
    heads = [_cut(c, w) for c, w in zip(kept, widths, strict=True)]

    def line(values: Sequence[str], paint_verdict: bool) -> str:
        parts = []
        for column, value, width in zip(kept, values, widths, strict=True):
            shown = paint(value, value) if paint_verdict and column == "verdict" else value
            pad = " " * (width - len(value))
            parts.append(pad + shown if column in right else shown + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    note = [textwrap.fill(f"(left out to fit {width} columns: {', '.join(dropped)}; a wider "
                          "terminal, or --width 0, shows them)", width or 80)] if dropped else []
    return "\n".join([line(heads, False), rule,
                      *(line(r, colour) for r in cells), *note]) + "\n"
