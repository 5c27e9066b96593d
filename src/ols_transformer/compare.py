"""Compare two result versions table by table: which tables changed, and by how much.

Every CSV under ``tables/`` and ``claims/`` of the two version directories is classed as
identical, changed, only in A or only in B. For a changed table, each column that differs gets
the number of differing cells and, for numeric columns, the largest absolute difference and the
largest relative difference of a row, |A - B| / |A| (each cell against its own value, so a
cell that moved 40% is never hidden by a large value elsewhere in its column).

``--check`` compares the two claims ledgers row by row: every verdict must be the same; an
estimate that measures rounding (``claims.ROUNDING_ESTIMATES``) within a factor ``MAGNITUDE``
(another CPU rounds differently), every other estimate within a relative tolerance. Each side
is named with the commit and code hash that made it (its ``provenance/run.json``).

Rows are matched by position when both tables have the same number of rows; otherwise by the
columns that are not floating point (ids such as seed, epoch, case, method) when they identify
the rows of both tables; otherwise only the row counts are reported.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .claims import ROUNDING_ESTIMATES, normalised
from .io import read_table

TABLE_DIRS = ("tables", "claims")
SUMMARY_COLUMNS = ["table", "status", "rows_a", "rows_b", "columns_changed", "max_rel_diff",
                   "note"]
COLUMN_COLUMNS = ["table", "column", "cells_differ", "max_abs_diff", "max_rel_diff"]


def table_files(version: Path) -> dict[str, Path]:
    """Relative path -> file, for every CSV under the version's table directories."""
    return {str(p.relative_to(version)): p for d in TABLE_DIRS
            for p in sorted((version / d).rglob("*.csv"))}


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def relative_difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|x - y| / |x| per element: 0 where equal (infinities included) or both NaN, inf where
    one side only is NaN or x is 0 and y is not."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(x - y) / np.abs(x)
    rel = np.where(x == y, 0.0, rel)
    return np.where(np.isnan(x) & np.isnan(y), 0.0,
                    np.where(np.isnan(x) ^ np.isnan(y), math.inf, rel))


def column_difference(a: pd.Series, b: pd.Series) -> dict[str, float]:
    """Differing cells, max |a - b| and the largest per-row |a - b| / |a| of two aligned
    columns."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    both_nan = a.isna() & b.isna()
    if not (_numeric(a) and _numeric(b)):
        differ = ~both_nan & (a.astype(str) != b.astype(str))
        return {"cells_differ": int(differ.sum()), "max_abs_diff": math.nan,
                "max_rel_diff": math.nan}
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        diff = np.abs(x - y)  # inf - inf gives NaN: counted below, not in the maximum
    differ = ~both_nan.to_numpy() & ~(x == y)
    finite = diff[np.isfinite(diff)]
    max_abs = float(finite.max()) if finite.size else 0.0
    both = np.isfinite(x) & np.isfinite(y)  # (a NaN or an infinity on one side: counted above)
    rel = relative_difference(x[both], y[both])
    max_rel = float(rel.max()) if rel.size else 0.0
    return {"cells_differ": int(differ.sum()), "max_abs_diff": max_abs, "max_rel_diff": max_rel}


def align_rows(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The rows of A and B to compare, in matching order, and how they were matched."""
    if len(a) == len(b):
        return a.reset_index(drop=True), b.reset_index(drop=True), ""
    keys = [c for c in a.columns if c in b.columns
            and not pd.api.types.is_float_dtype(a[c]) and not pd.api.types.is_float_dtype(b[c])]
    if keys and not a.duplicated(keys).any() and not b.duplicated(keys).any():
        merged = a[keys].reset_index().merge(b[keys].reset_index(), on=keys)
        if len(merged):
            return (a.loc[merged["index_x"]].reset_index(drop=True),
                    b.loc[merged["index_y"]].reset_index(drop=True),
                    f"{len(merged)} rows matched on {', '.join(keys)}")
    return a.iloc[:0], b.iloc[:0], "rows not matched (no key identifies them)"


def compare_tables(name: str, a: pd.DataFrame, b: pd.DataFrame
                   ) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The summary row of one table present in both versions, and its per-column rows."""
    notes = []
    only_a = [c for c in a.columns if c not in b.columns]
    only_b = [c for c in b.columns if c not in a.columns]
    if only_a:
        notes.append(f"columns only in A: {', '.join(only_a)}")
    if only_b:
        notes.append(f"columns only in B: {', '.join(only_b)}")
    rows_a, rows_b, how = align_rows(a, b)
    if how:
        notes.append(how)
    columns = []
    for column in (c for c in a.columns if c in b.columns):
        diff = column_difference(rows_a[column], rows_b[column])
        if diff["cells_differ"]:
            columns.append({"table": name, "column": column, **diff})
    changed = bool(columns or only_a or only_b or len(a) != len(b))
    rel = [c["max_rel_diff"] for c in columns if not math.isnan(c["max_rel_diff"])]
    summary = {"table": name, "status": "changed" if changed else "identical",
               "rows_a": len(a), "rows_b": len(b), "columns_changed": len(columns),
               "max_rel_diff": max(rel) if rel else math.nan, "note": "; ".join(notes)}
    return summary, columns


def compare_versions(a: str | Path, b: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per table, one row per changed column) for version directories A and B."""
    files_a, files_b = table_files(Path(a)), table_files(Path(b))
    summary, columns = [], []
    for name in sorted(set(files_a) | set(files_b)):
        if name not in files_b:
            summary.append({"table": name, "status": "only in A",
                            "rows_a": len(read_table(files_a[name])), "rows_b": math.nan})
        elif name not in files_a:
            summary.append({"table": name, "status": "only in B", "rows_a": math.nan,
                            "rows_b": len(read_table(files_b[name]))})
        else:
            row, cols = compare_tables(name, read_table(files_a[name]),
                                       read_table(files_b[name]))
            summary.append(row)
            columns.extend(cols)
    return (pd.DataFrame(summary, columns=SUMMARY_COLUMNS).fillna({"note": ""}),
            pd.DataFrame(columns, columns=COLUMN_COLUMNS))


def _plain(table: pd.DataFrame) -> str:
    """A plain-text table: numbers to 4 significant digits, blanks for missing values."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return ""
            return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
        return str(value)
    return table.map(cell).to_string(index=False)


def made_by(version: str | Path) -> str:
    """The commit (and whether the checkout had uncommitted changes) and the code hash that
    made a version, from its ``provenance/run.json``."""
    path = Path(version) / "provenance" / "run.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"made by: unknown ({path} is missing or unreadable)"
    git = record.get("git", {})
    dirty = " with uncommitted changes" if git.get("dirty") else ""
    return (f"made by commit {git.get('commit', 'unknown')}{dirty}, code sha256 "
            f"{str(record.get('code_sha256', 'unknown'))[:12]}, on {record.get('created', '?')}")


def format_comparison(summary: pd.DataFrame, columns: pd.DataFrame, a: str, b: str) -> str:
    counts = summary["status"].value_counts()
    lines = [f"A: {a}", f"   {made_by(a)}", f"B: {b}", f"   {made_by(b)}",
             ", ".join(f"{int(n)} {status}" for status, n in counts.sort_index().items()),
             "", _plain(summary)]
    if len(columns):
        lines += ["", "changed columns (max_rel_diff: the largest |A - B| / |A| of a row):",
                  _plain(columns)]
    return "\n".join(lines) + "\n"


LEDGER = "claims/claims.csv"
CLAIM_COLUMNS = ["claim_id", "verdict_a", "verdict_b", "estimate_a", "estimate_b", "compared",
                 "rel_diff", "factor", "reason"]
# A rounding-level estimate (claims.ROUNDING_ESTIMATES) matches within this factor either way.
MAGNITUDE = 10.0
DEFAULT_RTOL = 1e-4  # every other estimate: relative to A


def magnitude_factor(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """max(|x|, |y|) / min(|x|, |y|) per element: 1 where equal or both NaN, inf where one is 0
    or NaN and the other is not."""
    ax, ay = np.abs(x), np.abs(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.maximum(ax, ay) / np.minimum(ax, ay)
    factor = np.where((x == y) | (np.isnan(x) & np.isnan(y)), 1.0, factor)
    return np.where(np.isnan(factor), math.inf, factor)


def claim_changes(a: str | Path, b: str | Path, rtol: float = DEFAULT_RTOL,
                  magnitude: float = MAGNITUDE) -> pd.DataFrame:
    """Claims of the two ledgers that disagree, row by row: a different verdict; a
    rounding-level estimate (``ROUNDING_ESTIMATES``) that moved by more than a factor
    ``magnitude``; any other estimate that differs by more than ``rtol`` relative to A's (NaN
    on one side only counts); a claim in one ledger only. One row per such claim, columns
    ``CLAIM_COLUMNS`` (``compared``: how its estimate was compared; ``reason``: what
    differs). A ledger from before the estimate column (``measured``) is read as one with it
    (``claims.normalised``)."""
    ledgers = []
    for version in (Path(a), Path(b)):
        if not (version / LEDGER).is_file():
            raise FileNotFoundError(f"{version / LEDGER} is missing: a version is comparable "
                                    "once its claims rule has run")
        ledgers.append(normalised(read_table(version / LEDGER)).set_index("claim_id"))
    joined = ledgers[0][["verdict", "estimate"]].merge(
        ledgers[1][["verdict", "estimate"]], how="outer", left_index=True, right_index=True,
        suffixes=("_a", "_b"), indicator=True)
    x, y = joined["estimate_a"].to_numpy(float), joined["estimate_b"].to_numpy(float)
    rounding = joined.index.isin(sorted(ROUNDING_ESTIMATES))
    joined["compared"] = np.where(rounding, f"within x{magnitude:g}", f"rtol {rtol:g}")
    joined["rel_diff"] = relative_difference(x, y)
    joined["factor"] = magnitude_factor(x, y)
    moved = np.where(rounding, ~(joined["factor"] <= magnitude), ~(joined["rel_diff"] <= rtol))
    side = joined["_merge"].map({"left_only": "only in A", "right_only": "only in B",
                                 "both": ""}).astype(str)
    verdict = np.where(joined["verdict_a"] != joined["verdict_b"], "verdict", "")
    joined["reason"] = np.where(side != "", side,
                                np.where(verdict != "", verdict,
                                         np.where(moved, "estimate", "")))
    return joined[joined["reason"] != ""].reset_index()[CLAIM_COLUMNS]


def format_claim_changes(changes: pd.DataFrame, rtol: float = DEFAULT_RTOL,
                         magnitude: float = MAGNITUDE) -> str:
    rule = (f"every verdict the same; estimates at rounding level ({len(ROUNDING_ESTIMATES)} "
            f"claims, claims.ROUNDING_ESTIMATES) within a factor {magnitude:g}, every other "
            f"estimate within rtol {rtol:g} of A's")
    if changes.empty:
        return f"claims: as --check asks: {rule}\n"
    return (f"claims that differ: {len(changes)} (--check asks: {rule})\n"
            f"{_plain(changes)}\n")
