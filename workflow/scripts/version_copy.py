"""Copy every stage's outputs into this run's version directory, each with its provenance
record (one job per version; ``params.copies``: stage -> sources, targets, record,
version_record, log).

Light on purpose (no numpy, pandas or torch): it runs on the submitting node.
"""

from ols_transformer.reuse import copy_stage

smk = snakemake  # noqa: F821  (injected by Snakemake)
for stage, copy in smk.params.copies.items():
    copy_stage(stage, copy["sources"], copy["targets"], copy["record"], copy["version_record"],
               smk.params.version, copy["log"])
