# Replication pipeline for "Ordinary Least Squares is a Special Case of Transformer".
# Stages: data -> proof check -> NIST StRD -> training (Figure 1) -> covariance shift -> Hopfield capacity
#         -> trained linear transformers (beyond the paper) -> claims ledger and report. Outputs land in results/<version>/ (see README).

import os

from snakemake.utils import min_version

min_version("9.0")


# The defaults live beside this Snakefile, so the workflow also runs with --directory elsewhere;
# --configfile files are merged on top of them.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/proof.smk"
include: "workflow/rules/nist.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/shift.smk"
include: "workflow/rules/hopfield.smk"
include: "workflow/rules/icl.smk"
include: "workflow/rules/attention_regression.smk"
# Claims and notebooks last: a stage notebook is built for the stage tables the rules above write.
include: "workflow/rules/claims.smk"
include: "workflow/rules/notebooks.smk"
# Last: copies every stage's outputs into this run's version directory (one job), the run's
# cost table from every job's benchmark, and the cluster settings (GPU requests).
include: "workflow/rules/version.smk"
include: "workflow/rules/cost.smk"
include: "workflow/rules/cluster.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
