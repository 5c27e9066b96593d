"""Trained linear transformers on in-context regression: the three tables, the checks and the
figures (risk vs N, the learned preconditioner, risk vs depth, test-time shift)."""

import logging

from ols_transformer import checks
from ols_transformer.experiments import icl
from ols_transformer.io import save_figure, write_table
from ols_transformer.plots import icl as plots
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "icl") as run:
    tables = icl.run(run.cfg)
    summary = icl.summarize(tables, run.cfg.get("criteria"))
    logging.getLogger("ols_transformer").info("icl: %s", checks.headline(summary))
    write_table(tables["icl_preconditioner"], smk.output.preconditioner)
    write_table(tables["icl_risk"], smk.output.risk)
    write_table(tables["icl_shift"], smk.output.shift)
    write_table(summary, smk.output.summary)
    for figure, name in ((plots.plot_risk_vs_n(tables["icl_risk"]), "risk"),
                         (plots.plot_preconditioner(tables["icl_preconditioner"]),
                          "preconditioner"),
                         (plots.plot_risk_vs_depth(tables["icl_risk"]), "depth"),
                         (plots.plot_shift(tables["icl_shift"]), "shift")):
        save_figure(figure, getattr(smk.output, f"{name}_pdf"),
                    getattr(smk.output, f"{name}_png"))
