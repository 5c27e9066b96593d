from ols_transformer.experiments import training
from ols_transformer.io import load_arrays, write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.plots.training import plot_fig1a, plot_fig1b
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "training") as run:
    cfg = run.cfg
    arrays = load_arrays(smk.input.training)
    table, headline = training.run(cfg, arrays["x"], arrays["y"])
    factors = cfg["criteria"]["tol_factors"]
    alignment = training.alignment_by_tolerance(
        table, training.tolerances(cfg["alignment_tol"], factors))
    endpoint = training.endpoint(cfg, arrays["x"], arrays["y"], headline["w_final"].to_numpy(),
                                 training.tolerances(cfg["criteria"]["w_rel_tol"], factors))
    write_table(table, smk.output.table)
    write_table(headline, smk.output.headline)
    write_table(alignment, smk.output.alignment)
    write_table(endpoint, smk.output.endpoint)
    save_figure(plot_fig1a(table, cfg["alignment_tol"]), smk.output.fig1a_pdf,
                smk.output.fig1a_png)
    save_figure(plot_fig1b(table), smk.output.fig1b_pdf, smk.output.fig1b_png)
