import logging

from ols_transformer import checks
from ols_transformer import nist as strd
from ols_transformer.checks import nist as nist_checks
from ols_transformer.experiments import nist
from ols_transformer.io import write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.plots.nist import plot_lre
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "nist") as run:
    # Loads the shipped StRD files, recomputes their certified values and stops, naming the
    # dataset, where a file does not match its model or NIST's published values.
    datasets = strd.load_validated(int(run.cfg["reference_digits"]))
    table = nist.run(run.cfg, datasets)
    summary = checks.frame(checks.with_origins(nist_checks.checks(
        table, run.cfg["criteria"]), run.cfg.get("criteria_origin", {})))
    write_table(table, smk.output.table)
    write_table(summary, smk.output.summary)
    save_figure(plot_lre(table), smk.output.figure_pdf, smk.output.figure_png)
    logging.getLogger("ols_transformer").info("nist: %s", checks.headline(summary))
