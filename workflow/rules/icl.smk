# Beyond the paper: does training find the OLS-Transformer, and do the paper's Sec. 5 designs
# make it robust? Linear self-attention of depth 1-4, softmax attention, two-head attention and
# attention + GELU MLP trained on in-context regression with early stopping; the learned
# preconditioner against Gamma* and Lambda^-1, the risk against every baseline (L-step PGD for
# the stacks), the error under test-time shift, and the sensitivity grid. One job per part
# (per Lambda, the designs, the sensitivity grid: config.icl_parts), each under 60 s of
# one core, and a gather job that writes the tables, the checks and the figures.

from ols_transformer.config import icl_part_tables, icl_parts

ICL_CATEGORY = "6. Beyond the paper: trained linear transformers (ICL)"
ICL_PARTS = {  # part -> {table: its path inside the stage directory}
    part: {table: f"parts/{part}/{table}.csv" for table in icl_part_tables(config["icl"], part)}
    for part in icl_parts(config["icl"])
    if part != "sensitivity"
}
ICL_FIGURES = ["risk", "preconditioner", "depth", "shift", "training", "designs"]


for _part, _tables in ICL_PARTS.items():

    rule:
        name:
            f"icl_{_part}"
        output:
            **{table: out("icl", path) for table, path in _tables.items()},
            provenance=f"{stage_dir('icl')}/provenance/icl_{_part}.json",
        log:
            f"{stage_dir('icl')}/logs/icl_{_part}.log",
        benchmark:
            benchmark_file("icl", f"icl_{_part}")
        priority: PRIORITY["icl_part"]
        conda:
            CONDA_ENV
        threads: 1
        resources:
            runtime=by_attempt(10),
            mem_mb=by_attempt(3000),
        params:
            cfg=config["icl"],
            part=_part,
        script:
            "../scripts/icl.py"


rule icl_sensitivity:
    """The stacks trained again on a reduced setting, one choice changed at a time."""
    output:
        icl_sensitivity=report(
            out("icl", "tables/icl_sensitivity.csv"),
            caption="../report/icl_table.rst",
            category=ICL_CATEGORY,
            labels=labels("icl", "table", "icl_sensitivity"),
        ),
        provenance=f"{stage_dir('icl')}/provenance/icl_sensitivity.json",
    log:
        f"{stage_dir('icl')}/logs/icl_sensitivity.log",
    benchmark:
        benchmark_file("icl", "icl_sensitivity")
    priority: PRIORITY["icl_part"]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(3000),
    params:
        cfg=config["icl"],
        part="sensitivity",
    script:
        "../scripts/icl.py"


rule icl:
    """Gather the parts: the preconditioner, risk, shift and training tables, the checks (with
    the sensitivity grid) and the figures."""
    input:
        parts=[
            f"{stage_dir('icl')}/{path}"
            for tables in ICL_PARTS.values()
            for path in tables.values()
        ],
        sensitivity=rules.icl_sensitivity.output.icl_sensitivity,
    output:
        **{
            name: report(
                out("icl", f"tables/icl_{name}.csv"),
                caption="../report/icl_table.rst",
                category=ICL_CATEGORY,
                labels=labels("icl", "table", f"icl_{name}"),
            )
            for name in ["preconditioner", "risk", "shift", "training"]
        },
        **{f"{name}_pdf": out("icl", f"figures/icl_{name}.pdf") for name in ICL_FIGURES},
        **{
            f"{name}_png": report(
                out("icl", f"figures/icl_{name}.png"),
                caption=f"../report/icl_{name}.rst",
                category=ICL_CATEGORY,
                labels=labels("icl", "figure", f"icl_{name}"),
            )
            for name in ICL_FIGURES
        },
        summary=out("icl", "tables/icl_summary.csv"),
        provenance=prov("icl"),
    log:
        log_file("icl"),
    benchmark:
        benchmark_file("icl", after=[f"icl_{part}" for part in ICL_PARTS] + ["icl_sensitivity"])
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(3000),
    params:
        cfg=config["icl"],
        part="",
    script:
        "../scripts/icl.py"
