# One papermill notebook per stage (notebooks/<stage>.ipynb), executed against the stage's
# tables and figures and kept, with its HTML, under notebooks/. The notebooks read tables and
# show the stage's figures; they recompute no experiment. Include after the stage rules and
# claims.smk: a stage notebook is built only when this workflow writes all it reads.

NOTEBOOK_KERNEL = "ols-transformer"  # run on the job's own Python (ols_transformer.notebooks)
# Figure name -> its PNG in the stage directory (the notebooks show them as the rule saved them).
FIGURES = {
    path.removeprefix("figures/").removesuffix(".png"): f"{stage_dir(stage)}/{path}"
    for stage, paths in STAGE_OUTPUTS.items()
    for path in paths
    if path.startswith("figures/") and path.endswith(".png")
}
# papermill parameters -> files: <table>_csv, <figure>_png; the stage's criteria are params.
NOTEBOOK_INPUTS = {
    stage: {
        **{f"{name}_csv": TABLES[name] for name in notebook["tables"]},
        **{f"{name}_png": FIGURES[name] for name in notebook["figures"]},
    }
    for stage, notebook in NOTEBOOKS.items()
    if all(name in TABLES for name in notebook["tables"])
    and all(name in FIGURES for name in notebook["figures"])
}
NOTEBOOK_INPUTS["claims"] = {"claims_csv": rules.claims.output.ledger}
NOTEBOOK_STAGES = "|".join(NOTEBOOK_INPUTS)


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
            category="5. Notebooks",
            subcategory="{stage}",
            labels={"stage": "{stage}", "kind": "notebook", "name": "{stage}"},
        ),
        provenance=f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/provenance/notebook_{{stage}}.json",
    log:
        f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/logs/notebook_{{stage}}.log",
    benchmark:
        f"{STAGES_DIR}/notebook_{{stage}}/{{key}}/benchmarks/notebook_{{stage}}.tsv"
    wildcard_constraints:
        stage=NOTEBOOK_STAGES,
        key="[0-9a-f]+(-[0-9]+)?",
    group:
        "summary"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        cfg=lambda wildcards: stage_config(f"notebook_{wildcards.stage}"),
        kernel=NOTEBOOK_KERNEL,
        # papermill parameters: the files (paths relative to the working directory) and, for a
        # stage notebook, the stage's criteria
        parameters=lambda wildcards, input: {
            **{name: path for name, path in input.items() if name != "notebook"},
            **(
                {"criteria": stage_config(f"notebook_{wildcards.stage}")[section]["criteria"]}
                if (section := NOTEBOOKS[wildcards.stage]["criteria"])
                else {}
            ),
        },
    script:
        "../scripts/notebook.py"


for _name in NOTEBOOK_INPUTS:
    STAGE_OUTPUTS[f"notebook_{_name}"] = [f"notebooks/{_name}.ipynb", f"notebooks/{_name}.html"]
    # the rule's benchmark file for this stage (its wildcards filled in), for the cost table
    COST_JOBS[f"notebook_{_name}"] = dict(
        stage=f"notebook_{_name}",
        benchmark=f"{stage_dir(f'notebook_{_name}')}/benchmarks/notebook_{_name}.tsv",
        provenance=prov(f"notebook_{_name}"),
        after=[],
    )
