# Each version directory, results/<run_name>-<hash>/, gets a copy of every stage's outputs,
# whether the stage was computed for this version or an earlier one (reuse by content, see
# common.smk), with a provenance record that says which. Include last: one rule per stage.

for _stage, _paths in STAGE_OUTPUTS.items():

    rule:
        name:
            f"version_{_stage}"
        input:
            files=[f"{stage_dir(_stage)}/{path}" for path in _paths],
            provenance=prov(_stage),
            run_record=rules.run_record.output.record,
        output:
            files=[version_out(path) for path in _paths],
            provenance=version_out(f"provenance/{_stage}.json"),
        log:
            f"{VERSION_DIR}/logs/version_{_stage}.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            stage=_stage,
            version=VERSION,
        script:
            "../scripts/version_copy.py"

    ALL_TARGETS.extend(getattr(rules, f"version_{_stage}").output)
