# Cluster settings computed from the config (include last, after every rule): a job of the
# hopfield or icl stage asks for one GPU (resource `gpu`, which the SLURM executor plugin turns
# into `--gpus=1`) when its config section sets `device: cuda`. With `auto` or `cpu` no GPU is
# requested: `auto` on a node without one runs on its CPU. By stage, not rule name, so a stage
# split into several rules gets them all (every rule whose name starts with the stage's).

GPU_STAGES = ("hopfield", "icl")
GATHERS = ("icl", "hopfield")  # jobs that only read their stage's parts: no GPU


def gpu_rules():
    """Rule name -> GPUs for the rules of GPU_STAGES whose config device is cuda."""
    wanted = [stage for stage in GPU_STAGES if config.get(stage, {}).get("device") == "cuda"]
    names = [each.name for each in workflow.rules]
    return {
        name: 1
        for name in names
        if name not in GATHERS
        and any(name == stage or name.startswith(f"{stage}_") for stage in wanted)
    }


for _rule_name, _gpus in gpu_rules().items():
    workflow.get_rule(_rule_name).resources["gpu"] = _gpus
