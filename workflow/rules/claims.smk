# The claims ledger: one row per claim of the paper, with the measured number, the criterion and
# PASS / FAIL / MISSING (src/ols_transformer/claims.py). It reads the tables of every stage this
# workflow has; a stage that is not included gives MISSING for its claims, never PASS.
# Its inputs are resolved when the DAG is built, so the include order does not matter here.

from ols_transformer.claims import tables_among


rule claims:
    """The claims ledger (CSV and Markdown) from the tables of every stage."""
    input:
        # a function, so it sees every rule whatever the include order
        unpack(
            lambda wildcards: tables_among(
                (str(path) for rule_ in workflow.rules for path in rule_.output),
                f"{VERSION_DIR}/tables",
            )
        ),
    output:
        ledger=report(
            out("claims/claims.csv"), caption="../report/claims.rst", category="0. Claims ledger"
        ),
        markdown=report(
            out("claims/claims.md"), caption="../report/claims_md.rst", category="0. Claims ledger"
        ),
        provenance=prov("claims"),
    log:
        log_file("claims"),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(1000),
    params:
        version=VERSION,
    script:
        "../scripts/claims.py"


ALL_TARGETS.extend([rules.claims.output.ledger, rules.claims.output.markdown])
