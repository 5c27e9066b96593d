# Each version directory, results/<run_name>-<hash>/, gets a copy of every stage's outputs,
# whether the stage was computed for this version or an earlier one (reuse by content, see
# common.smk), with a provenance record per stage that says which. One local job per version
# copies every stage (milliseconds each). Include after every rule that registers outputs.
#
# OLS_TRANSFORMER_STAGES=data,training (stage names, comma-separated) limits the copy, and so
# the default target, to those stages and what they read: a partial version, for tests and for
# running part of the study. Unset: every stage.


VERSION_STAGES = version_stages()
# Stage -> (its files, their copies, its provenance record, the version's record of it, log).
VERSION_COPIES = {
    stage: dict(
        sources=[f"{stage_dir(stage)}/{path}" for path in STAGE_OUTPUTS[stage]],
        targets=[f"{VERSION_DIR}/{path}" for path in STAGE_OUTPUTS[stage]],
        record=prov(stage),
        version_record=f"{VERSION_DIR}/provenance/{stage}.json",
        log=f"{VERSION_DIR}/logs/version_{stage}.log",
    )
    for stage in VERSION_STAGES
}


rule version:
    """Copy every stage's outputs into this run's version directory, each stage with the
    version's provenance record of it (reused or computed for this version, and where)."""
    input:
        files=[path for copy in VERSION_COPIES.values() for path in copy["sources"]],
        provenance=[copy["record"] for copy in VERSION_COPIES.values()],
        run_record=rules.run_record.output.record,
    output:
        files=[protected(path) for copy in VERSION_COPIES.values() for path in copy["targets"]],
        provenance=[protected(copy["version_record"]) for copy in VERSION_COPIES.values()],
    log:
        [copy["log"] for copy in VERSION_COPIES.values()],
    localrule: True
    conda:
        CONDA_ENV
    params:
        copies=VERSION_COPIES,
        version=VERSION,
    script:
        "../scripts/version_copy.py"


ALL_TARGETS.extend(rules.version.output)
