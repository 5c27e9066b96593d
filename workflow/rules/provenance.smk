rule run_record:
    """The version's own provenance: resolved config, code hash, git state, packages. It runs
    first (priority), so versions.csv lists even a run that fails."""
    output:
        record=version_out("provenance/run.json"),
        config=version_out("config.resolved.yaml"),
    log:
        f"{VERSION_DIR}/logs/run_record.log",
    priority: 100
    localrule: True
    conda:
        CONDA_ENV
    params:
        version=VERSION,
    script:
        "../scripts/run_record.py"


ALL_TARGETS.append(rules.run_record.output.record)
