"""Write the version-level provenance record and the resolved config of this run."""

import yaml

from ols_transformer import provenance
from ols_transformer.io import write_json, write_text
from ols_transformer.stage import workflow_root
from ols_transformer.versioning import code_fingerprint, git_state

smk = snakemake  # noqa: F821  (injected by Snakemake)
root = workflow_root(smk)
with open(smk.log[0], "w") as log:
    config = dict(smk.config)
    # In the run's own order: the order of icl.lambdas or hopfield.runs decides which part job
    # holds what, and a resolved config read back (notebooks, large_estimate) must agree.
    write_text(yaml.safe_dump(config, sort_keys=False), smk.output.config)
    write_json(
        provenance.record(
            stage="run",
            config=config,
            version=smk.params.version,
            code_sha256=code_fingerprint(root),
            git=git_state(root),
        ),
        smk.output.record,
    )
    print(f"wrote {smk.output.record}", file=log)
