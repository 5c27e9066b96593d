"""Scale-out support: the cost table (critical path through a hand-built job DAG), progress lines,
the config slice a job is handed, and dry runs of the cluster-sized config and of the GPU
request (issue 19)."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    QUICK,
    REPO,
    default_config_with,
    merged_config,
    only_stages,
    part_jobs,
    part_units,
    run_snakemake,
)

from ols_transformer import cost, stages
from ols_transformer.config import (
    ICL_QUERIES,
    attention_regression_jobs,
    attention_regression_parts,
    icl_jobs,
    icl_parts,
    packed_jobs,
    validate_config,
)
from ols_transformer.experiments import concat_tables
from ols_transformer.progress import progress_line, tracked
from ols_transformer.stage import handed_config

LARGE = REPO / "config" / "large.yaml"

# A hand-built DAG: a -> b -> d, a -> c -> d, e alone. Job seconds chosen so that the longest
# chain goes through c, not b (a + c + d = 1 + 5 + 2 = 8 > a + b + d = 6), and e (7) is long
# but shorter than that chain.
SECONDS = {"a": 1.0, "b": 3.0, "c": 5.0, "d": 2.0, "e": 7.0}
AFTER = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}


def all_chains(after: dict[str, list[str]], jobs: list[str]) -> list[list[str]]:
    """Every maximal chain ending at each job, by enumeration (independent of the DP)."""
    def ending_at(job: str) -> list[list[str]]:
        before = after.get(job, [])
        return [[job]] if not before else [c + [job] for b in before for c in ending_at(b)]
    return [chain for job in jobs for chain in ending_at(job)]


def test_critical_path_of_a_hand_built_dag(seed: int) -> None:
    seconds, chain = cost.critical_path(SECONDS, AFTER)
    assert chain == ["a", "c", "d"] and seconds == pytest.approx(8.0)
    # against brute force over every chain, for random job times
    rng = np.random.default_rng(seed)
    for _ in range(20):
        times = {job: float(t) for job, t in zip(SECONDS, rng.uniform(0, 10, len(SECONDS)),
                                                     strict=True)}
        best = max(all_chains(AFTER, list(times)), key=lambda c: sum(times[j] for j in c))
        got_seconds, got = cost.critical_path(times, AFTER)
        assert got_seconds == pytest.approx(sum(times[j] for j in best))
        assert got == best


def test_critical_path_refuses_cycles_and_unknown_jobs() -> None:
    with pytest.raises(ValueError, match="cycle"):
        cost.critical_path({"a": 1.0, "b": 1.0}, {"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match="unknown jobs"):
        cost.critical_path({"a": 1.0}, {"a": ["z"]})


def test_cost_table_totals_stages_and_reuse() -> None:
    jobs = pd.DataFrame({
        "name": list(SECONDS), "stage": ["s1", "s1", "s2", "s2", "s3"],
        "reused": [True, True, False, False, True],
        "seconds": list(SECONDS.values()), "max_rss_mb": [100.0, 300.0, 50.0, np.nan, 20.0]})
    table = cost.cost_table(jobs, AFTER)
    stages = table[table.level == "stage"].set_index("name")
    assert stages.loc["s1", "seconds"] == pytest.approx(4.0)
    assert stages.loc["s1", "max_rss_mb"] == 300.0 and stages.loc["s1", "reused"]
    assert not stages.loc["s2", "reused"]  # not every job of s2 reused
    totals = table[table.level == "total"].set_index("name")
    assert totals.loc["sum", "seconds"] == pytest.approx(18.0)
    assert totals.loc["critical path", "seconds"] == pytest.approx(8.0)
    assert totals.loc["critical path", "detail"] == "a > c > d"
    assert totals.loc["sum / critical path", "seconds"] == pytest.approx(18.0 / 8.0)
    critical = table[(table.level == "job") & table.critical]["name"].tolist()
    assert critical == ["a", "c", "d"]
    text = cost.format_cost(table)
    assert "2.25" in text and "a > c > d" in text


def test_run_cost_reads_benchmarks_and_provenance(tmp_path: Path) -> None:
    """Benchmark TSVs as Snakemake writes them ('-' where RSS was not measured); a job whose
    stage record names another version is reused."""
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    rows = {"a": "2.5\t0:00:02\t120.5\t1\t1\t1\t0\t0\t50\t1.2\n",
            "b": "0.4\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t-\n"}
    jobs = []
    for name, row in rows.items():
        (tmp_path / f"{name}.tsv").write_text(header + row)
        (tmp_path / f"{name}.json").write_text(
            '{"version": "%s"}' % ("v1" if name == "a" else "v0"))
        jobs.append(cost.Job(name, f"stage_{name}", str(tmp_path / f"{name}.tsv"),
                             str(tmp_path / f"{name}.json"), ("a",) if name == "b" else ()))
    table = cost.run_cost(jobs, "v1").set_index(["level", "name"])
    assert table.loc[("job", "a"), "seconds"] == 2.5
    assert table.loc[("job", "a"), "max_rss_mb"] == 120.5
    assert np.isnan(table.loc[("job", "b"), "max_rss_mb"])
    assert not table.loc[("job", "a"), "reused"] and table.loc[("job", "b"), "reused"]
    assert table.loc[("total", "critical path"), "seconds"] == pytest.approx(2.9)


def test_progress_lines_estimate_the_time_left() -> None:
    assert progress_line(3, 10, "settings", 12.0, "x") == \
        "3/10 settings, 12.0 s elapsed, ~28 s left (x)"
    ticks = iter([0.0, 2.0, 6.0, 6.5])  # start, then after each of three items
    lines: list[str] = []
    items = list(tracked(["p", "q", "r"], "runs", lines.append, clock=lambda: next(ticks)))
    assert items == ["p", "q", "r"]
    assert lines == ["1/3 runs, 2.0 s elapsed, ~4 s left (p)",
                     "2/3 runs, 6.0 s elapsed, ~3 s left (q)",
                     "3/3 runs, 6.5 s elapsed, ~0 s left (r)"]


def test_stage_run_reads_the_slice_its_rule_hands() -> None:
    config = {"shift": {"p": 5}, "hopfield": {"n_cues": 3}}
    handed = SimpleNamespace(config=config, params=SimpleNamespace(cfg={"p": 4}))
    assert handed_config(handed, "shift") == ({"p": 4}, True)
    fallback = SimpleNamespace(config=config, params=SimpleNamespace())
    assert handed_config(fallback, "shift") == ({"p": 5}, False)


def test_parts_pack_into_jobs_in_order_within_the_limit() -> None:
    """packed_jobs, on hand-built work: consecutive parts share a job while its total stays
    within the limit; a part over it keeps its own; every part once, in order."""
    work = {"a": 1.0, "b": 2.0, "c": 9.0, "d": 3.0, "e": 1.0, "f": 7.0}
    assert packed_jobs(work, 5.0) == {"a_to_b": ["a", "b"], "c": ["c"], "d_to_e": ["d", "e"],
                                      "f": ["f"]}
    assert packed_jobs(work, 1.0) == {name: [name] for name in work}
    assert packed_jobs(work, 100.0) == {"a_to_f": list(work)}
    assert packed_jobs({}, 1.0) == {}


PACKED = (("icl", icl_jobs, icl_parts),
          ("attention_regression", attention_regression_jobs, attention_regression_parts))


@pytest.mark.parametrize("configfile", [None, REPO / "config" / "other_seeds.yaml", LARGE])
def test_the_shipped_configs_keep_a_job_per_part(configfile: Path | None) -> None:
    """config.yaml, its twin and large.yaml: each icl and attention_regression part is a job of
    its own, named as the part, but for config.yaml's two smallest icl parts: its sensitivity
    grid at N = 20 and 160 only (icl.sensitivity.context_sizes), two alternatives of ~2.6e6
    work units each (6 settings less the N = 40, 80 ones), share one job; large.yaml runs the
    grid at every N, a job each."""
    config = default_config_with(*([configfile] if configfile else []))
    large = configfile is not None and configfile.name == "large.yaml"
    for section, jobs, parts in PACKED:
        expected = {part: [part] for part in parts(config[section])}
        if section == "icl" and not large:
            del expected["sensitivity_1"], expected["sensitivity_2"]
            expected["sensitivity_1_to_sensitivity_2"] = ["sensitivity_1", "sensitivity_2"]
        assert jobs(config[section]) == expected


def test_the_quick_config_s_small_parts_share_a_job() -> None:
    """quick.yaml: the icl parts in one job, the attention_regression parts in one job, every
    part once and in part order (the gather concatenates the jobs' tables in job order); the
    job names are valid part wildcards (a unit's directory name)."""
    from ols_transformer.experiments import icl

    config = merged_config()
    assert ICL_QUERIES == icl.QUERIES
    for section, jobs, parts in PACKED:
        found = jobs(config[section])
        assert len(found) == 1 and len(parts(config[section])) > 1, section
        assert [p for held in found.values() for p in held] == parts(config[section])
        assert all(re.fullmatch(r"\w+", job) for job in found)
        assert set(stages.parts(section, config)) == set(found)
        assert all(spec.params == {"parts": found[job]}
                   for job, spec in stages.parts(section, config).items())


def test_a_job_s_tables_are_its_parts_rows_in_part_order() -> None:
    pieces = [{"t": pd.DataFrame({"x": [1, 2]}), "u": pd.DataFrame({"y": [0.5]})},
              {"t": pd.DataFrame({"x": [3]})},
              {"u": pd.DataFrame({"y": [1.5, 2.5]}), "v": pd.DataFrame({"z": ["a"]})}]
    tables = concat_tables(pieces)
    assert list(tables) == ["t", "u", "v"]
    assert tables["t"]["x"].tolist() == [1, 2, 3]
    assert tables["u"]["y"].tolist() == [0.5, 1.5, 2.5]
    assert tables["v"].index.tolist() == [0]


def dry_run(workdir: Path, *configfiles: Path) -> str:
    result = run_snakemake(workdir, "-n", "--configfile", *map(str, configfiles))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def job_counts(stdout: str) -> dict[str, int]:
    table = stdout[stdout.rindex("Job stats:"):]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def test_large_config_is_valid_and_dry_runs(tmp_path: Path) -> None:
    """config/large.yaml: the cluster-sized study (merged over config.yaml as Snakemake merges
    it), validated, and its jobs (one per stage, the Hopfield and icl parts and their gathers,
    one per notebook, the version copy and the cost table); its Hopfield and icl part jobs ask
    for a GPU (device: cuda), the others do not."""
    config = default_config_with(LARGE)
    validate_config(config)
    runs = config["hopfield"]["runs"]
    assert max(runs["ols_attention"]["N"]) == 6400 and max(runs["poly3"]["N"]) == 1280
    assert config["icl"]["d"] == 10 and max(config["icl"]["context_sizes"]) == 640
    assert all(len(config[s]["seeds"]) == 5 for s in ("hopfield", "icl", "training", "shift"))

    stdout = dry_run(tmp_path, LARGE)
    counts = job_counts(stdout)
    # hopfield: one job per run, per own_jobs N and per seed_jobs (N, seed), and the gather
    hopfield_parts = part_jobs("hopfield", config)
    assert sum(hopfield_parts.values()) == 11 + 35  # a job per run, and 35 for their largest N
    poly3 = {"poly3": runs["poly3"]}
    assert runs["poly3"]["seed_jobs"] == [640, 1280]
    assert sum(part_jobs("hopfield", {"hopfield": {**config["hopfield"], "runs": poly3}})
               .values()) == 1 + 5 + 5  # poly3's own job, and one per seed at N 640 and 1280
    # icl: stacks split evenly by work (12), the designs, one per normalised depth (3), the
    # sensitivity alternatives split likewise (13: depths 1-2, config.yaml's), a job each, and
    # the gather
    icl_part_jobs = part_jobs("icl", config)
    assert icl_part_jobs.total() == len(icl_jobs(config["icl"])) == 19
    # attention_regression: the algebra and one job per (design, N, SNR) of the paper's grid
    ar = config["attention_regression"]
    ar_parts = part_jobs("attention_regression", config)
    assert ar_parts.total() == len(attention_regression_jobs(ar)) == 97
    assert ar_parts.total() == 1 + len(ar["designs"]) * len(ar["sizes"]) * len(ar["snrs"])
    expected = hopfield_parts + icl_part_jobs + ar_parts + Counter({
        "data": 1, "proof": 1, "nist": 1, "training": 1, "training_sweep": 1, "shift": 1,
        "hopfield": 1, "icl": 1, "attention_regression": 1, "claims": 1,
        **{stages.notebook_stage(name): 1 for name, spec in stages.STAGES.items()
           if spec.notebook},
        "run_record": 1, "version": 1, "cost": 1, "tables_html": 1, "all": 1})
    assert counts == {**expected, "total": expected.total()}
    resources = dict(re.findall(r"^\s*rule (\w+):\n(?:.*\n)*?\s*resources: ([^\n]*)", stdout,
                                re.MULTILINE))
    # every computing job of hopfield and icl (their part rules); not their gathers, which
    # only read the parts
    on_gpu = set(hopfield_parts) | set(icl_part_jobs) | set(ar_parts)
    assert on_gpu == {"hopfield_part", "icl_part", "attention_regression_part"}
    assert on_gpu <= set(resources)
    assert all("gpu=1" in resources[rule] for rule in on_gpu)
    assert not any("gpu" in res for rule, res in resources.items() if rule not in on_gpu)


STAGE_DIR = re.compile(r"results/stages/(\w+)/([0-9a-f]{16}(?:-\d+)?)/")
# Editing one Hopfield run's grid: the stages whose key changes (the part job that computes the
# run, the gather, what reads the gather), and the jobs a rerun then makes (with the new
# version's own jobs). The quick config computes poly4 in a job it shares with other runs.
POLY4_EDIT = {"hopfield": {"runs": {"poly4": {"N": [65]}}}}
POLY4_READERS = {"hopfield", "claims", "notebook_hopfield", "notebook_claims"}
POLY4_JOBS = Counter({"hopfield": 1, "claims": 1, "notebook_hopfield": 1, "notebook_claims": 1,
                      "run_record": 1, "version": 1,
                      "cost": 1, "tables_html": 1, "all": 1})


@pytest.mark.workflow
def test_editing_one_hopfield_run_rekeys_and_recomputes_only_its_job_and_the_gather(
        quick_run: Path, tmp_path: Path) -> None:
    """On the finished quick run, `snakemake -n` with poly4's N grid edited: the stages whose
    key (stage directory) is new are the part job computing poly4, the gather and its readers,
    and those are all it computes again, with the new version's copy, record and cost table;
    the other part job (sharing no run with poly4), and every other stage, keeps its key: it
    is not computed again."""
    config = merged_config()
    runs = config["hopfield"]["runs"]
    poly4_job = part_jobs("hopfield", {"hopfield": {**config["hopfield"],
                                                    "runs": {"poly4": runs["poly4"]}}})
    others = part_jobs("hopfield", {"hopfield": {**config["hopfield"], "runs": {
        name: run for name, run in runs.items() if run.get("job") != runs["poly4"]["job"]}}})
    assert sum(poly4_job.values()) == 1 and others
    poly4_unit = part_units("hopfield", {"hopfield": {**config["hopfield"],
                                                      "runs": {"poly4": runs["poly4"]}}})
    other_units = part_units("hopfield", {"hopfield": {**config["hopfield"], "runs": {
        name: run for name, run in runs.items() if run.get("job") != runs["poly4"]["job"]}}})
    assert len(poly4_unit) == 1 and other_units and not other_units & poly4_unit
    edit = tmp_path / "edit.yaml"
    edit.write_text(yaml.safe_dump(POLY4_EDIT))
    stdout = dry_run(quick_run.parents[1], QUICK, edit)
    assert job_counts(stdout) == {**(POLY4_JOBS + poly4_job),
                                  "total": (POLY4_JOBS + poly4_job).total()}
    # every stage directory the plan names (outputs, and inputs from the finished stages)
    stages = quick_run.parents[1] / "results" / "stages"
    named = dict(STAGE_DIR.findall(stdout))
    assert all((stages / stage).is_dir() for stage in named)
    rekeyed = {stage for stage, key in named.items() if not (stages / stage / key).exists()}
    assert rekeyed == poly4_unit | POLY4_READERS
    assert other_units <= named.keys()  # read by the gather, under the quick run's key


def test_an_unknown_stage_in_the_config_s_stages_is_refused(tmp_path: Path) -> None:
    targets, env = only_stages("data", "trainig")
    result = run_snakemake(tmp_path, "-n", *targets, "--configfile", str(QUICK), env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config field 'stages' names unknown stages ['trainig']" in output
    assert "training_sweep" in output


def test_more_cores_than_cpus_are_the_user_s_and_a_note_says_so(tmp_path: Path) -> None:
    """Locally, --cores above the machine's CPUs: Snakemake provides what was asked (the
    workflow does not rewrite its resources) and a note names both numbers and --cores all;
    --cores equal to the CPUs: no note. (Runs of the data stage alone: a dry run does not print
    the count.)"""
    cpus = len(os.sched_getaffinity(0))
    out = {}
    for cores in (cpus + 6, cpus):
        result = run_snakemake(tmp_path / str(cores), "--until", "data", "--configfile",
                               str(QUICK), "--cores", str(cores))
        assert result.returncode == 0, result.stderr[-3000:]
        out[cores] = ([line for line in result.stderr.splitlines() if line.startswith("note:")],
                      re.findall(r"^Provided cores: (\d+)$", result.stderr, re.MULTILINE))
    assert out[cpus + 6] == ([f"note: --cores {cpus + 6} on a machine with {cpus} CPUs: up to "
                              f"{cpus + 6} jobs share {cpus} CPUs (--cores {cpus} or --cores all "
                              "runs one job per CPU, ~10% less CPU)"], [str(cpus + 6)])
    assert out[cpus] == ([], [str(cpus)])


def test_the_rules_are_the_same_for_every_shipped_config(tmp_path: Path) -> None:
    """`snakemake --list-rules` prints one list for the default, quick and large configs: the
    rules come from the registry (a stage's rule, its `<stage>_part` rule), never from a config,
    so a profile's set-resources and --forcerun can name them."""
    listed = {}
    for name, files in (("default", ()), ("quick", (QUICK,)),
                        ("large", (REPO / "config" / "large.yaml",))):
        args = ["--configfile", *map(str, files)] if files else []
        result = run_snakemake(tmp_path, "--list-rules", *args)
        assert result.returncode == 0, result.stderr[-2000:]
        listed[name] = sorted(line.split()[0] for line in result.stdout.splitlines()
                              if line and not line.startswith(" "))
    assert listed["default"] == listed["quick"] == listed["large"]
    parts = [f"{name}_part" for name, spec in stages.STAGES.items() if spec.parts]
    notebooks = [stages.notebook_stage(name) for name, spec in stages.STAGES.items()
                 if spec.notebook]
    assert set(listed["default"]) == {*stages.STAGES, *parts, *notebooks, "run_record",
                                      "version", "cost", "tables_html", "all"}
