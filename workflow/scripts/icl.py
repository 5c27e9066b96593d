"""The icl stage's jobs. With ``params.part`` set: one part (a Lambda's stacks, the designs or
the sensitivity grid; experiments/icl.py ``run_part``) and its tables. Without: the gather job,
which concatenates the parts' tables and writes the stage's tables, checks and figures."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer import checks
from ols_transformer.experiments import icl
from ols_transformer.io import save_figure, write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "icl") as run:
    if smk.params.part:
        for name, table in icl.run_part(run.cfg, smk.params.part).items():
            write_table(table, smk.output[name])
    else:
        from ols_transformer.plots import icl as plots  # only the gather job draws

        pieces = [{Path(path).stem: pd.read_csv(path)} for path in smk.input.parts]
        tables = icl.gather(pieces)
        tables["icl_sensitivity"] = pd.read_csv(smk.input.sensitivity)
        summary = icl.summarize(tables, run.cfg.get("criteria"))
        logging.getLogger("ols_transformer").info("icl: %s", checks.headline(summary))
        for name in ("preconditioner", "risk", "shift", "training"):
            write_table(tables[f"icl_{name}"], smk.output[name])
        write_table(summary, smk.output.summary)
        for name, figure in plots.figures(tables).items():
            save_figure(figure, smk.output[f"{name}_pdf"], smk.output[f"{name}_png"])
