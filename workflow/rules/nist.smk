NIST_CATEGORY = "7. Beyond the paper: NIST certified regressions (StRD)"


rule nist:
    """The OLS-Transformer against NIST's certified regressions (StRD): digits per route."""
    output:
        table=report(
            out("nist", "tables/nist_lre.csv"),
            caption="../report/nist_table.rst",
            category=NIST_CATEGORY,
            labels=labels("nist", "table", "nist_lre"),
        ),
        summary=out("nist", "tables/nist_summary.csv"),
        figure_pdf=out("nist", "figures/nist_lre.pdf"),
        figure_png=report(
            out("nist", "figures/nist_lre.png"),
            caption="../report/nist_figure.rst",
            category=NIST_CATEGORY,
            labels=labels("nist", "figure", "nist_lre"),
        ),
        provenance=prov("nist"),
    log:
        log_file("nist"),
    benchmark:
        benchmark_file("nist")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        cfg=stage_config("nist", "nist"),
    script:
        "../scripts/nist.py"
