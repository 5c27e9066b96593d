# One papermill notebook per stage that has one (notebooks/<stage>.ipynb, the registry's
# `notebook`), executed against the stage's tables and figures and kept, with its HTML, in the
# unit notebook_<stage>. The notebooks read tables and show the stage's figures; they recompute
# no experiment.
NOTEBOOK_KERNEL = "ols-transformer"  # run on the job's own Python (ols_transformer.notebooks)
# Figure name -> its PNG in the stage directory (the notebooks show them as the rule saved them).
FIGURES = {
    output.name: f"{stage_dir(stage)}/{output.path}.png"
    for stage, spec in registry.STAGES.items()
    for output in spec.outputs
    if output.kind == "figure"
}
# papermill parameters -> files: <table>_csv, <figure>_png; the stage's criteria are params.
NOTEBOOK_INPUTS = {
    stage: {
        **{f"{name}_csv": TABLES[name] for name in spec.notebook.tables},
        **{f"{name}_png": FIGURES[name] for name in spec.notebook.figures},
    }
    for stage, spec in registry.STAGES.items()
    if spec.notebook is not None
}
NOTEBOOK_INPUTS["claims"] = {"claims_csv": rules.claims.output.ledger}


rule notebook:
    """Execute a stage's notebook with papermill against the stage's results; export HTML."""
    input:
        unpack(lambda wildcards: NOTEBOOK_INPUTS[wildcards.stage]),
        notebook=os.path.join(workflow.basedir, "notebooks", "{stage}.ipynb"),
    output:
        notebook=protected(f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/notebooks/{{stage}}.ipynb"),
        html=report(
            protected(f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/notebooks/{{stage}}.html"),
            caption="../report/notebook.rst",
            category=registry.NOTEBOOKS,
            labels=report_labels("{stage}.html"),
        ),
        provenance=f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/provenance/notebook_{{stage}}.json",
    log:
        f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/logs/notebook_{{stage}}.log",
    benchmark:
        f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/benchmarks/notebook_{{stage}}.tsv"
    wildcard_constraints:
        stage="|".join(NOTEBOOK_INPUTS),
        key=KEY_PATTERN,
    group:
        "summary"
    conda:
        "../envs/notebook.yaml"
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        cfg=lambda wildcards: stage_config(registry.notebook_stage(wildcards.stage)),
        kernel=NOTEBOOK_KERNEL,
        # papermill parameters: the files (paths relative to the working directory) and, for a
        # stage notebook, the stage's criteria
        parameters=lambda wildcards, input: {
            **{name: path for name, path in input.items() if name != "notebook"},
            **(
                {"criteria": config[registry.STAGES[wildcards.stage].criteria_section]["criteria"]}
                if registry.STAGES[wildcards.stage].notebook.criteria
                else {}
            ),
        },
    script:
        "../scripts/notebook.py"
