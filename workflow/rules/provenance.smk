rule run_record:
    """The version's own provenance: resolved config, code hash, git state, packages. It runs
    first (priority), so versions.csv lists even a run that fails."""
    output:
        record=protected(f"{VERSION_DIR}/provenance/run.json"),
        config=protected(f"{VERSION_DIR}/config.resolved.yaml"),
    log:
        f"{VERSION_DIR}/logs/run_record.log",
    priority: 100
    localrule: True
    conda:
        conda_env()
    params:
        version=VERSION,
    script:
        "../scripts/run_record.py"
