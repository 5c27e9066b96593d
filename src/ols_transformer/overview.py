"""What ``ols-transformer versions`` and ``show`` print: the index of result versions with each
one's verdict counts, and one version's claims ledger as a plain-text table for a terminal.

Reads files only (``results/versions.csv``, ``<version>/claims/claims.csv``); judges nothing.
Ledgers written before a column existed (``holds_where``, ``share_holds``, ``origin``,
``quote``) still display: the missing cells are empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .claims import where_cell
from .io import read_table

if TYPE_CHECKING:
    import pandas as pd

COUNTED = ("PASS", "FAIL", "CONDITIONAL", "MISSING")  # the verdicts `versions` counts
INDEX = "versions.csv"
LEDGER = Path("claims") / "claims.csv"
SHOW_COLUMNS = ("claim", "kind", "measured", "verdict", "holds_where")
# ANSI SGR codes per verdict: green, red, yellow, magenta; REPORTED stays plain.
COLOURS: Mapping[str, str] = {"PASS": "32", "FAIL": "31", "CONDITIONAL": "33", "MISSING": "35"}


def read_ledger(version: Path) -> pd.DataFrame:
    """``version``'s ``claims/claims.csv``, with the columns newer ledgers add filled in."""
    path = version / LEDGER
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the run of {version.name} has not finished "
                                "(or recompute it: ols-transformer claims VERSION)")
    ledger = read_table(path)
    for column, empty in (("holds_where", ""), ("share_holds", math.nan), ("origin", ""),
                          ("quote", "")):
        if column not in ledger:
            ledger[column] = empty
    ledger["holds_where"] = ledger["holds_where"].fillna("")
    return ledger


def verdict_counts(ledger: pd.DataFrame) -> dict[str, int]:
    """How many rows of the ledger have each of ``COUNTED``."""
    tally = ledger["verdict"].value_counts()
    return {verdict: int(tally.get(verdict, 0)) for verdict in COUNTED}


def versions_table(results: Path) -> pd.DataFrame:
    """``results/versions.csv`` with one column per verdict of ``COUNTED``: each version's
    counts from its ledger (empty cells where it has none, e.g. an unfinished run)."""
    index_file = results / INDEX
    if not index_file.is_file():
        raise FileNotFoundError(f"{index_file} is missing: no run has written results there "
                                "(run snakemake, or give --results DIR)")
    index = read_table(index_file)
    counts: list[Mapping[str, Any]] = []
    for name in index["version"].astype(str):
        version = results / name
        counts.append(verdict_counts(read_ledger(version)) if (version / LEDGER).is_file()
                      else dict.fromkeys(COUNTED, ""))
    for verdict in COUNTED:
        index[verdict] = [row[verdict] for row in counts]
    return index


def show_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger's columns ``show`` prints, as text: the claim id, its kind, the measured
    number (4 significant digits), the verdict and where it holds (with the share)."""
    import pandas as pd

    rows = [{"claim": row.claim_id, "kind": row.kind, "measured": _number(row.measured),
             "verdict": row.verdict, "holds_where": where_cell(row)}
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


def format_table(table: pd.DataFrame, colour: bool = False,
                 right: Sequence[str] = ()) -> str:
    """``table`` as aligned plain text, a header and a rule; ``right``: right-aligned columns.
    With ``colour``, a ``verdict`` column's cells are painted, padded by their plain
    length, so the escape codes never shift the alignment."""
    columns = [str(c) for c in table.columns]
    cells = [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str], paint_verdict: bool) -> str:
        parts = []
        for column, value, width in zip(columns, values, widths, strict=True):
            shown = paint(value, value) if paint_verdict and column == "verdict" else value
            pad = " " * (width - len(value))
            parts.append(pad + shown if column in right else shown + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns, False), rule,
                      *(line(r, colour) for r in cells)]) + "\n"
