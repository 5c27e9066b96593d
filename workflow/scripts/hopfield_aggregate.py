"""The hopfield_capacity table, the fitted growth laws and the capacity figure."""

import logging

from ols_transformer.experiments import capacity
from ols_transformer.io import read_table, save_figure, write_table
from ols_transformer.plots import capacity as plots
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "hopfield") as run:
    table = capacity.combine([read_table(path) for path in smk.input.tables],
                             float(run.cfg["confidence"]))
    growth = capacity.growth(table)
    logging.getLogger("ols_transformer").info("hopfield capacity: %s", capacity.headline(growth))
    write_table(table, smk.output.table)
    write_table(growth, smk.output.growth)
    save_figure(plots.plot_capacity(table), smk.output.figure_pdf, smk.output.figure_png)
