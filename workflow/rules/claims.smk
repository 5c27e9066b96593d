# The claims ledger: one row per claim of the paper, with the measured number, the criterion and
# PASS / FAIL / MISSING (src/ols_transformer/claims.py). It reads the tables of every stage this
# workflow has; a stage that is not included gives MISSING for its claims, never PASS.
# Include after the stage rules: it reads the tables they register (STAGE_OUTPUTS).

from ols_transformer.claims import LEDGER_TABLES

# Table name -> its file, in the directory of the stage that writes it.
TABLES = {
    path.removeprefix("tables/").removesuffix(".csv"): f"{stage_dir(stage)}/{path}"
    for stage, paths in STAGE_OUTPUTS.items()
    for path in paths
    if path.startswith("tables/")
}


rule claims:
    """The claims ledger (CSV and Markdown) and its overview figure from the tables of every
    stage."""
    input:
        **{name: path for name, path in TABLES.items() if name in LEDGER_TABLES},
    output:
        ledger=report(
            out("claims", "claims/claims.csv"),
            caption="../report/claims.rst",
            category="0. Claims ledger",
            labels=labels("claims", "table", "claims"),
        ),
        markdown=report(
            out("claims", "claims/claims.md"),
            caption="../report/claims_md.rst",
            category="0. Claims ledger",
            labels=labels("claims", "text", "claims"),
        ),
        figure_pdf=out("claims", "figures/claims_overview.pdf"),
        figure_png=report(
            out("claims", "figures/claims_overview.png"),
            caption="../report/claims_overview.rst",
            category="0. Claims ledger",
            labels=labels("claims", "figure", "claims_overview"),
        ),
        provenance=prov("claims"),
    log:
        log_file("claims"),
    benchmark:
        benchmark_file("claims")
    group:
        "summary"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(1000),
    params:
        cfg=stage_config("claims"),
    script:
        "../scripts/claims.py"
