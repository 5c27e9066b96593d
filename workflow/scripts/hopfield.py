"""The Hopfield capacity study's gather: the part jobs' tables (workflow/scripts/hopfield_part.py)
in the config's run order, the growth fits, Amit's criterion, softmax's temperatures, the checks
and the figure."""

import logging
from pathlib import Path

from ols_transformer import checks
from ols_transformer.checks import hopfield as hopfield_checks
from ols_transformer.experiments import hopfield
from ols_transformer.io import write_table
from ols_transformer.plots import hopfield as plots
from ols_transformer.plots.common import save_figure
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "hopfield") as run:
    log = logging.getLogger("ols_transformer")
    table = hopfield.gather([hopfield.read_part(Path(path) / "hopfield.csv")
                             for path in smk.input.parts], run.cfg)
    derived = hopfield.derived(table)
    log.info("hopfield capacity: %s", hopfield.headline(derived["hopfield_growth"]))
    write_table(table, smk.output.table)
    write_table(derived["hopfield_growth"], smk.output.growth)
    write_table(derived["hopfield_amit"], smk.output.amit)
    write_table(derived["hopfield_softmax"], smk.output.softmax)
    asymmetric = hopfield.association_table(run.cfg)
    write_table(asymmetric, smk.output.asymmetric)
    write_table(checks.frame(hopfield_checks.checks(table, run.cfg["criteria"],
                                                    asymmetric=asymmetric)),
                smk.output.summary)
    save_figure(plots.plot_capacity(table, derived["hopfield_amit"]), smk.output.figure_pdf,
                smk.output.figure_png)
