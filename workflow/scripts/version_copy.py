"""Copy one stage's outputs into this run's version directory, with its provenance record.

Light on purpose (no numpy, pandas or torch): one such job runs per stage and version.
"""

from ols_transformer.reuse import copy_stage

smk = snakemake  # noqa: F821  (injected by Snakemake)
copy_stage(smk.params.stage, list(smk.input.files), list(smk.output.files),
           smk.input.provenance, smk.output.provenance, smk.params.version, smk.log[0])
