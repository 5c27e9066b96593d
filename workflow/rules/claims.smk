# The claims ledger: one row per claim of the paper, with the measured number, the criterion and
# PASS / FAIL / MISSING (src/ols_transformer/claims.py), from the tables of the stages it judges
# (its upstream in the registry).

# Table name -> its file, in the directory of the stage that writes it.
TABLES = {
    output.name: f"{stage_dir(stage)}/{output.path}"
    for stage, spec in registry.STAGES.items()
    for output in spec.outputs
    if output.kind == "table"
}


rule claims:
    """The claims ledger (CSV and Markdown) and its overview figure from the tables of every
    stage."""
    input:
        **{
            output.name: TABLES[output.name]
            for stage in registry.STAGES["claims"].upstream
            for output in registry.STAGES[stage].outputs
            if output.kind == "table"
        },
    output:
        **outputs("claims"),
    log:
        log_file("claims"),
    benchmark:
        benchmark_file("claims")
    priority: priority("claims")
    group:
        "summary"
    conda:
        conda_env("claims")
    threads: 1
    resources:
        **resources("claims"),
    params:
        cfg=stage_config("claims"),
    script:
        "../scripts/claims.py"
