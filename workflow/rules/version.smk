# Each version directory, results/<run_name>-<hash>/, gets a copy of every selected stage's
# outputs (config `stages`, default all) and its notebook's, whether computed for this version
# or an earlier one (reuse by content, see common.smk), with a provenance record per stage that
# says which. One local job per version copies them all (milliseconds each).


# Unit -> (its files, their copies, its provenance record, the version's record of it, log).
VERSION_COPIES = {
    unit: dict(
        sources=[f"{stage_dir(unit)}/{path}" for path in unit_files(unit)],
        targets=[f"{VERSION_DIR}/{path}" for path in unit_files(unit)],
        record=prov(unit),
        version_record=f"{VERSION_DIR}/provenance/{unit}.json",
        log=f"{VERSION_DIR}/logs/version_{unit}.log",
    )
    for unit in SELECTED
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
        conda_env()
    params:
        copies=VERSION_COPIES,
        version=VERSION,
    script:
        "../scripts/version_copy.py"
