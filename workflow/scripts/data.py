from ols_transformer import data
from ols_transformer.io import save_arrays, write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "data") as run:  # run.cfg: config parts data and training's task
    cases = data.regression_cases(run.cfg["data"])
    save_arrays(smk.output.regression, **data.flatten(cases))
    save_arrays(smk.output.training, **data.training_sets(run.cfg["training"]))
    write_table(data.summary(cases), smk.output.summary)
