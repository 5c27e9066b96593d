"""The attention_regression stage's jobs. With ``params.part`` set: one part (the algebra, or one
(design, N, SNR) condition; experiments/attention_regression.py ``run_part``) and its tables.
Without: the gather job, which concatenates the parts' tables (in part order), adds the
comparison with the transcribed table and writes the stage's tables, checks and figures."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer import checks
from ols_transformer.io import write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "attention_regression") as run:
    from ols_transformer.experiments import attention_regression as experiment

    if smk.params.part:
        for name, table in experiment.run_part(run.cfg, smk.params.part).items():
            write_table(table, smk.output[name])
    else:
        from ols_transformer.checks import attention_regression as ar_checks
        from ols_transformer.plots import attention_regression as plots

        pieces = [{Path(p).stem: pd.read_csv(p)} for p in smk.input.parts]
        tables = experiment.gather(run.cfg, pieces)
        summary = checks.frame(ar_checks.checks(tables, run.cfg.get("criteria")))
        logging.getLogger("ols_transformer").info("attention_regression: %s",
                                                  checks.headline(summary))
        for name in ("r2", "comparison", "identity", "optimisation", "kernel"):
            write_table(tables[f"ar_{name}"], smk.output[name])
        write_table(summary, smk.output.summary)
        for name, figure in plots.figures(tables).items():
            save_figure(figure, smk.output[f"{name}_pdf"], smk.output[f"{name}_png"])
