rule data:
    """Synthetic regression data: the proof-check cases and the Figure 1 training sets."""
    input:
        # the version's own record comes first, so versions.csv lists even a failed run
        run_record=rules.run_record.output.record,
    output:
        regression=out("data/regression.npz"),
        training=out("data/training.npz"),
        summary=out("tables/data_summary.csv"),
        provenance=prov("data"),
    log:
        log_file("data"),
    conda:
        CONDA_ENV
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        data=config["data"],
        training=config["training"],
    script:
        "../scripts/data.py"


ALL_TARGETS.append(rules.data.output.summary)
