# The second seed paper (Goulet Coulombe, "Ordinary Least Squares as an Attention Mechanism"):
# the OLS-as-attention identity on held-out queries, the optimisation view, the kernel identity,
# and Attention Regression against its Monte Carlo (OLS, RF, GBM, MLP, Nadaraya-Watson). One
# job per part (config.attention_regression_parts: the algebra, and one per (design, N, SNR)
# condition), and a gather job that writes the tables, the checks and the figures.

from ols_transformer.config import attention_regression_part_tables, attention_regression_parts

AR_CATEGORY = "7. The second paper: OLS as an attention mechanism"
AR_PARTS = {  # part -> {table: its path inside the stage directory}
    part: {table: f"parts/{part}/{table}.csv" for table in attention_regression_part_tables(part)}
    for part in attention_regression_parts(config["attention_regression"])
}
AR_TABLES = ["r2", "comparison", "identity", "optimisation", "kernel"]
AR_FIGURES = ["r2", "ceiling"]


for _part, _tables in AR_PARTS.items():

    rule:
        name:
            f"attention_regression_{_part}"
        output:
            **{table: out("attention_regression", path) for table, path in _tables.items()},
            provenance=f"{stage_dir('attention_regression')}/provenance/attention_regression_{_part}.json",
        log:
            f"{stage_dir('attention_regression')}/logs/attention_regression_{_part}.log",
        benchmark:
            benchmark_file("attention_regression", f"attention_regression_{_part}")
        priority: PRIORITY["icl_part"]
        conda:
            CONDA_ENV
        threads: 1
        resources:
            runtime=by_attempt(10),
            mem_mb=by_attempt(3000),
        params:
            cfg=config["attention_regression"],
            part=_part,
        script:
            "../scripts/attention_regression.py"


rule attention_regression:
    """Gather the parts: the per-replicate R^2, the comparison with the paper's table, the
    algebra's tables, the checks and the figures."""
    input:
        parts=[
            f"{stage_dir('attention_regression')}/{path}"
            for tables in AR_PARTS.values()
            for path in tables.values()
        ],
    output:
        **{
            name: report(
                out("attention_regression", f"tables/ar_{name}.csv"),
                caption="../report/attention_regression_table.rst",
                category=AR_CATEGORY,
                labels=labels("attention_regression", "table", f"ar_{name}"),
            )
            for name in AR_TABLES
        },
        **{f"{name}_pdf": out("attention_regression", f"figures/ar_{name}.pdf") for name in AR_FIGURES},
        **{
            f"{name}_png": report(
                out("attention_regression", f"figures/ar_{name}.png"),
                caption="../report/attention_regression_figure.rst",
                category=AR_CATEGORY,
                labels=labels("attention_regression", "figure", f"ar_{name}"),
            )
            for name in AR_FIGURES
        },
        summary=out("attention_regression", "tables/ar_summary.csv"),
        provenance=prov("attention_regression"),
    log:
        log_file("attention_regression"),
    benchmark:
        benchmark_file(
            "attention_regression", after=[f"attention_regression_{part}" for part in AR_PARTS]
        )
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(3000),
    params:
        cfg=config["attention_regression"],
        part="",
    script:
        "../scripts/attention_regression.py"
