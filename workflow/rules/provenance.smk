rule run_record:
    """The version's own provenance: resolved config, code hash, git state, packages."""
    output:
        record=out("provenance/run.json"),
        config=out("config.resolved.yaml"),
    log:
        log_file("run_record"),
    localrule: True
    conda:
        CONDA_ENV
    params:
        version=VERSION,
    script:
        "../scripts/run_record.py"


ALL_TARGETS.append(rules.run_record.output.record)
