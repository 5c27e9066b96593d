# Beyond the paper: does training find the OLS-Transformer? Linear self-attention of depth
# 1-4 trained on in-context regression, its learned preconditioner against Gamma* and
# Lambda^-1, its risk against every baseline, and its error under test-time shift. One job.

ICL_CATEGORY = "6. Beyond the paper: trained linear transformers (ICL)"


rule icl:
    """Train LSA of every depth at every (Lambda, N, seed); the preconditioner, risk and shift
    tables, the checks and the figures."""
    output:
        preconditioner=report(
            out("icl", "tables/icl_preconditioner.csv"),
            caption="../report/icl_table.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "table", "icl_preconditioner"),
        ),
        risk=report(
            out("icl", "tables/icl_risk.csv"),
            caption="../report/icl_table.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "table", "icl_risk"),
        ),
        shift=report(
            out("icl", "tables/icl_shift.csv"),
            caption="../report/icl_table.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "table", "icl_shift"),
        ),
        summary=out("icl", "tables/icl_summary.csv"),
        risk_pdf=out("icl", "figures/icl_risk.pdf"),
        risk_png=report(
            out("icl", "figures/icl_risk.png"),
            caption="../report/icl_risk.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "figure", "icl_risk"),
        ),
        preconditioner_pdf=out("icl", "figures/icl_preconditioner.pdf"),
        preconditioner_png=report(
            out("icl", "figures/icl_preconditioner.png"),
            caption="../report/icl_preconditioner.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "figure", "icl_preconditioner"),
        ),
        depth_pdf=out("icl", "figures/icl_depth.pdf"),
        depth_png=report(
            out("icl", "figures/icl_depth.png"),
            caption="../report/icl_depth.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "figure", "icl_depth"),
        ),
        shift_pdf=out("icl", "figures/icl_shift.pdf"),
        shift_png=report(
            out("icl", "figures/icl_shift.png"),
            caption="../report/icl_shift.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "figure", "icl_shift"),
        ),
        provenance=prov("icl"),
    log:
        log_file("icl"),
    benchmark:
        benchmark_file("icl")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(4000),
    params:
        cfg=config["icl"],
    script:
        "../scripts/icl.py"
