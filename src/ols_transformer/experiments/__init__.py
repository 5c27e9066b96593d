"""The stages' experiments, one module per stage (docs/ARCHITECTURE.md), and what their part
jobs share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def concat_tables(pieces: Sequence[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Tables of several parts, each table's rows concatenated in part order (a part job that
    computes several parts writes them as one piece; the gather then concatenates the jobs'
    pieces in job order, which is part order)."""
    names = dict.fromkeys(name for piece in pieces for name in piece)
    return {name: pd.concat([piece[name] for piece in pieces if name in piece],
                            ignore_index=True) for name in names}
