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


# papermill's parameters: the files (paths relative to the working directory) and, for a stage
# notebook, the stage's criteria.
NOTEBOOK_PARAMETERS = {
    stage: {
        **{name: str(path) for name, path in inputs.items()},  # (the ledger's: a rule's output)
        **(
            {"criteria": config[registry.STAGES[stage].criteria_section]["criteria"]}
            if registry.STAGES[stage].notebook.criteria
            else {}
        ),
    }
    for stage, inputs in NOTEBOOK_INPUTS.items()
}


# One rule per notebook, notebook_<stage> as its unit: the rule graph and the logs tell them
# apart (one wildcard rule showed as `notebook` at each depth of the graph).
for _stage in NOTEBOOK_INPUTS:
    _unit = registry.notebook_stage(_stage)

    rule:
        name:
            _unit
        input:
            **NOTEBOOK_INPUTS[_stage],
        output:
            notebook=protected(f"{stage_dir(_unit)}/notebooks/{_stage}.ipynb"),
            html=report(
                protected(f"{stage_dir(_unit)}/notebooks/{_stage}.html"),
                caption="../report/notebook.rst",
                category=registry.NOTEBOOKS,
                labels=report_labels(f"{_stage}.html"),
            ),
            provenance=prov(_unit),
        log:
            log_file(_unit),
        benchmark:
            benchmark_file(_unit)
        group:
            "summary"
        conda:
            "../envs/notebook.yaml"
        threads: 1
        resources:
            runtime=by_attempt(10),
            mem_mb=by_attempt(2000),
        params:
            cfg=stage_config(_unit),
            kernel=NOTEBOOK_KERNEL,
            stage=_stage,
            # relative to the checkout (StageRun's workflow_root), and not an input: its
            # content is in the unit's key (a new key, a new job), and a checkout moved
            # elsewhere (another absolute path) must not make Snakemake run every notebook again
            notebook=f"notebooks/{_stage}.ipynb",
            parameters=NOTEBOOK_PARAMETERS[_stage],
        script:
            "../scripts/notebook.py"
