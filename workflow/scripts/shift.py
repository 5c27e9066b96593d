"""The covariance-shift study: every family, the stage's checks and the two figures."""

import logging

from ols_transformer import checks
from ols_transformer.checks import shift as shift_checks
from ols_transformer.experiments import shift
from ols_transformer.io import write_table
from ols_transformer.plots import shift as plots
from ols_transformer.plots.common import save_figure
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "shift") as run:
    table = shift.run(run.cfg, progress=logging.getLogger("ols_transformer").info)
    summary = checks.frame(checks.with_origins(shift_checks.checks(
        table, run.cfg["criteria"]), run.cfg.get("criteria_origin", {})))
    logging.getLogger("ols_transformer").info("covariance shift: %s", checks.headline(summary))
    write_table(table, smk.output.table)
    write_table(summary, smk.output.summary)
    save_figure(plots.plot_error_vs_magnitude(table), smk.output.error_pdf, smk.output.error_png)
    save_figure(plots.plot_distortion_agreement(table), smk.output.distortion_pdf,
                smk.output.distortion_png)
