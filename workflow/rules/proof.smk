rule proof_check:
    """Every step of the OLS-Transformer proof, measured against a high-precision OLS."""
    input:
        regression=rules.data.output.regression,
    output:
        table=report(
            out("proof_check", "tables/proof_check.csv"),
            caption="../report/proof_check.rst",
            category="1. Proof check",
            labels=labels("proof", "table", "proof_check"),
        ),
        summary=out("proof_check", "tables/proof_summary.csv"),
        figure_pdf=out("proof_check", "figures/proof_error_vs_condition.pdf"),
        figure_png=report(
            out("proof_check", "figures/proof_error_vs_condition.png"),
            caption="../report/proof_figure.rst",
            category="1. Proof check",
            labels=labels("proof", "figure", "proof_error_vs_condition"),
        ),
        provenance=prov("proof_check"),
    log:
        log_file("proof_check"),
    benchmark:
        benchmark_file("proof_check")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(4000),
    params:
        cfg=stage_config("proof_check", "proof"),
    script:
        "../scripts/proof.py"
