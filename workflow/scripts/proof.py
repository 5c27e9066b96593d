import logging

from ols_transformer import checks, data
from ols_transformer.checks import proof as proof_checks
from ols_transformer.experiments import proof
from ols_transformer.io import load_arrays, write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.plots.proof import plot_error_vs_condition
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "proof") as run:
    cases = data.unflatten(load_arrays(smk.input.regression))
    table = proof.run(run.cfg, cases, progress=logging.getLogger("ols_transformer").info)
    write_table(table, smk.output.table)
    write_table(checks.frame(checks.with_origins(proof_checks.checks(
        table, run.cfg["criteria"]), run.cfg.get("criteria_origin", {}))),
                smk.output.summary)
    save_figure(plot_error_vs_condition(table, run.cfg["criteria"]["rounding_constant"]),
                smk.output.figure_pdf, smk.output.figure_png)
