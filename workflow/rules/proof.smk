rule proof_check:
    """Every step of the OLS-Transformer proof, measured against a high-precision OLS."""
    input:
        regression=rules.data.output.regression,
    output:
        table=report(
            out("tables/proof_check.csv"),
            caption="../report/proof_check.rst",
            category="1. Proof check",
        ),
        summary=out("tables/proof_summary.csv"),
        figure_pdf=out("figures/proof_error_vs_condition.pdf"),
        figure_png=report(
            out("figures/proof_error_vs_condition.png"),
            caption="../report/proof_figure.rst",
            category="1. Proof check",
        ),
        provenance=prov("proof_check"),
    log:
        log_file("proof_check"),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(4000),
    script:
        "../scripts/proof.py"


ALL_TARGETS.append(rules.proof_check.output.summary)
