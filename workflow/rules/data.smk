rule data:
    """Synthetic regression data: the proof-check cases and the Figure 1 training sets."""
    output:
        regression=out("data", "data/regression.npz"),
        training=out("data", "data/training.npz"),
        summary=out("data", "tables/data_summary.csv"),
        provenance=prov("data"),
    log:
        log_file("data"),
    benchmark:
        benchmark_file("data")
    conda:
        CONDA_ENV
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        cfg=stage_config("data"),
    script:
        "../scripts/data.py"
