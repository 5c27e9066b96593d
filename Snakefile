# Replication pipeline for "Ordinary Least Squares is a Special Case of Transformer".
# Stages (src/ols_transformer/stages.py, the registry): data -> proof -> nist -> training
# (Figure 1) -> shift -> hopfield -> icl (beyond the paper) -> attention_regression (the second
# paper of our sources) -> claims ledger, notebooks and the run's cost. Outputs land in results/<version>/ (see README).

import os

from snakemake.utils import min_version

min_version("9.0")

# No thread settings here: Snakemake sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS
# (and the other *_NUM_THREADS) of every `script:` job to its rule's `threads` (1 in every rule),
# over any value the user exported (tests/test_workflow_env.py shows it); the workflow has no
# `run:` block, the one place that would not get them.


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
include: "workflow/rules/claims.smk"
include: "workflow/rules/notebooks.smk"
include: "workflow/rules/version.smk"
include: "workflow/rules/cost.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.run_record.output.record,
        rules.version.output,
        rules.cost.output,
        rules.tables_html.output,
