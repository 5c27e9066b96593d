"""benchmarks/large_estimate.py: the large config's jobs estimated from a hand-built cost table of
a default run, each scaling against numbers worked out by hand, and its job list against the
large config's part jobs (the dry run's compute jobs)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import REPO, default_config_with

from ols_transformer import config as config_module
from ols_transformer.config import (
    attention_regression_parts,
    hopfield_jobs,
    icl_jobs,
    icl_part_work,
    icl_parts,
)

SPEC = importlib.util.spec_from_file_location("large_estimate",
                                              REPO / "benchmarks" / "large_estimate.py")
assert SPEC is not None and SPEC.loader is not None
large_estimate = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(large_estimate)

STARTUP = 3.0


def cost_table(config: dict[str, Any], seconds: dict[str, float], other: float = 10.0
               ) -> pd.DataFrame:
    """A cost table's job rows for every compute job of ``config``: ``seconds`` where given,
    else ``other``."""
    jobs = large_estimate.compute_jobs(config)
    unknown = set(seconds) - {job for job, _ in jobs}
    assert not unknown, unknown  # a typo in a test's job name would test nothing
    return pd.DataFrame({"level": "job", "name": [job for job, _ in jobs],
                         "stage": [stage for _, stage in jobs],
                         "seconds": [seconds.get(job, other) for job, _ in jobs]})


def small_configs() -> tuple[dict[str, Any], dict[str, Any]]:
    """A default and a large config, small enough to work out by hand (config.yaml elsewhere)."""
    default = default_config_with()
    hop = default["hopfield"]
    hop["seeds"], hop["runs"] = [0, 1], {"classical": {"model": "classical", "N": [100, 200]}}
    icl = default["icl"]
    icl.update(d=5, context_sizes=[20, 40], depths=[1, 2], seeds=[0, 1, 2],
               designs=["softmax", "multi_head"], norm_depths=[2, 4], steps=10000,
               restarts=2, batch_size=24)
    icl["sensitivity"] = {"depths": [1, 2], "seeds": [0, 1, 2], "steps": [500],
                          "learning_rates": [0.05], "inits": ["zfb", "random"],
                          "grad_clips": [0.3]}
    ar = default["attention_regression"]
    ar.update(designs=["linear", "friedman1"], sizes=[500], snrs=[2.0], replicates=3,
              variants=["paper"])
    default["training"]["seeds"] = [0, 1]
    default["shift"]["seeds"] = [0, 1]

    large = copy.deepcopy(default)
    large["hopfield"]["seeds"] = [0, 1, 2, 3]
    large["hopfield"]["runs"]["classical"]["N"] = [100, 200, 400]
    large["hopfield"]["runs"]["classical"]["own_jobs"] = [400]
    large["icl"].update(d=10, context_sizes=[20, 40, 80], depths=[1, 2, 3, 4],
                        seeds=[0, 1, 2, 3, 4], norm_depths=[2, 3, 4])
    large["icl"]["sensitivity"]["learning_rates"] = [0.01, 0.05]
    large["attention_regression"].update(designs=["linear", "friedman1", "soft_radial"],
                                         sizes=[500, 1000], snrs=[0.5, 2.0], replicates=10)
    large["training"]["seeds"] = [0, 1, 2, 3]
    large["shift"]["seeds"] = [0, 1, 2, 3]
    return default, large


def test_each_scaling_against_hand_worked_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # every part its own job here (as in config.yaml); packed jobs: the test below
    monkeypatch.setattr(config_module, "ICL_PACK_WORK", 0)
    monkeypatch.setattr(config_module, "AR_PACK_SECONDS", 0)
    default, large = small_configs()
    # The default's parts: icl lsa_1 holds all four (Lambda, N) (work 4 x 2.16e6 <= 12e6);
    # sensitivity_1 the steps=500 control, sensitivity_2 lr=0.05, sensitivity_3 init=random,
    # each on all four.
    assert icl_parts(default["icl"]) == ["lsa_1", "designs", "norm_2", "norm_4",
                                         "sensitivity_1", "sensitivity_2", "sensitivity_3"]
    measured = {
        "hopfield_classical": 13.0,                          # compute 10
        "icl_lsa_1": 33.0,                                   # compute 30
        "icl_designs": 11.0,                                 # compute 8
        "icl_norm_2": 9.0, "icl_norm_4": 21.0,               # compute 6, 18
        "icl_sensitivity_1": 5.0, "icl_sensitivity_2": 15.0,  # compute 2, 12
        "icl_sensitivity_3": 27.0,                           # compute 24
        "attention_regression_identity": 4.0,
        "attention_regression_linear_n500_snr2": 23.0,       # compute 20
        "attention_regression_friedman1_n500_snr2": 13.0,    # compute 10
        "training": 7.0, "training_sweep": 5.0, "shift": 6.0, "data": 0.5, "icl": 2.0,
    }
    result = large_estimate.estimate(cost_table(default, measured), default, large, STARTUP)
    got = dict(zip(result["job"], result["seconds"], strict=True))

    # Hopfield (classical: capacity ~ N, work ~ N^2): the run's compute 10 s x seeds 4/2 x
    # (100^2 + 200^2 + 400^2) / (100^2 + 200^2), shared out by each job's N^2
    assert got["hopfield_classical"] == pytest.approx(10 * 2 * 50_000 / 50_000 + 3)
    assert got["hopfield_classical_N400"] == pytest.approx(10 * 2 * 160_000 / 50_000 + 3)

    # icl stacks: seeds 5/3, d^2 100/25, sum of depths 10/3; at depths 1-4 and 5 seeds a
    # setting's work is 12e6: two (Lambda, N) per job (ICL_JOB_WORK 30e6), 2 Lambdas x 3 N = 3
    # jobs, and sum(N) 20 + 40 of the default's 2 x (20 + 40) = 120 for lsa_1
    grow = 5 / 3 * 4 * 10 / 3
    lsa = [job for job in got if job.startswith("icl_lsa_")]
    assert len(lsa) == 3
    assert got["icl_lsa_1"] == pytest.approx(30 * grow * 60 / 120 + 3)
    assert sum(got[job] - 3 for job in lsa) == pytest.approx(30 * grow * 280 / 120)
    # designs: seeds and d^2 (same designs and context size)
    assert got["icl_designs"] == pytest.approx(8 * 5 / 3 * 4 + 3)
    # normalised stacks: the same depth's part, else the default's per depth ((6 + 18) / 6)
    assert got["icl_norm_2"] == pytest.approx(6 * 5 / 3 * 4 + 3)
    assert got["icl_norm_3"] == pytest.approx(4 * 3 * 5 / 3 * 4 + 3)
    assert got["icl_norm_4"] == pytest.approx(18 * 5 / 3 * 4 + 3)
    # sensitivity (its own seeds and depths, unchanged; d^2 x 4): each alternative on all 6
    # settings in one job (work 6 x 2.16e6 <= ICL_JOB_WORK), sum N 280; each alternative at its
    # own default rate; lr=0.01 is new: the default alternatives' (not the control's) pooled,
    # (12 + 24) / 2
    assert got["icl_sensitivity_1"] == pytest.approx(2 * 4 * 280 / 120 + 3)
    assert got["icl_sensitivity_2"] == pytest.approx(18 * 4 * 280 / 120 + 3)  # lr=0.01
    assert got["icl_sensitivity_3"] == pytest.approx(12 * 4 * 280 / 120 + 3)  # lr=0.05
    assert got["icl_sensitivity_4"] == pytest.approx(24 * 4 * 280 / 120 + 3)  # init=random
    assert len([job for job in got if job.startswith("icl_sensitivity_")]) == 4

    # attention_regression: (N / 500)^2 x 10/3 x (seconds - start-up) + start-up, any SNR
    assert got["attention_regression_linear_n1000_snr0p5"] == pytest.approx(
        (1000 / 500) ** 2 * 10 / 3 * (23 - 3) + 3)
    assert got["attention_regression_linear_n500_snr2"] == pytest.approx(10 / 3 * 20 + 3)
    assert got["attention_regression_friedman1_n1000_snr2"] == pytest.approx(
        4 * 10 / 3 * 10 + 3)
    # a design the default lacks: the default designs pooled, (20 + 10) / 2 per part
    assert got["attention_regression_soft_radial_n1000_snr2"] == pytest.approx(
        4 * 10 / 3 * 15 + 3)
    assert got["attention_regression_identity"] == 4.0
    assert len([job for job in got if job.startswith("attention_regression_")]) == 1 + 12

    # the rest: training and its sweep by training.seeds (4/2), shift by shift.seeds, the rest
    # as measured
    assert got["training"] == pytest.approx(14.0)
    assert got["training_sweep"] == pytest.approx(10.0)
    assert got["shift"] == pytest.approx(12.0)
    assert got["data"] == 0.5 and got["icl"] == 2.0 and got["claims"] == 10.0


def test_every_job_of_the_large_config_and_no_other() -> None:
    """config/large.yaml merged over config.yaml: each part job the workflow names, the stages'
    own jobs and the notebooks: 180, the dry run's 184 jobs (tests/test_scale.py) less
    run_record, version, cost and all."""
    default = default_config_with()
    large = default_config_with(REPO / "config" / "large.yaml")
    result = large_estimate.estimate(cost_table(default, {}), default, large, STARTUP)
    parts = ({*hopfield_jobs(large["hopfield"])}
             | {f"icl_{part}" for part in icl_parts(large["icl"])}
             | {f"attention_regression_{part}"
                for part in attention_regression_parts(large["attention_regression"])})
    own = {"data", "proof", "nist", "training", "training_sweep", "shift", "hopfield", "icl",
           "attention_regression", "claims"}
    notebooks = {f"notebook_{s}" for s in ("proof", "nist", "training", "shift", "hopfield",
                                           "icl", "attention_regression", "claims")}
    assert len(parts) == 46 + 19 + 97
    assert result["job"].is_unique
    assert set(result["job"]) == parts | own | notebooks
    assert len(result) == 180
    assert (result["seconds"] > 0).all()


def test_a_table_without_a_default_job_is_refused() -> None:
    default, large = small_configs()
    table = cost_table(default, {})
    with pytest.raises(ValueError, match="icl_norm_2"):
        large_estimate.estimate(table[table["name"] != "icl_norm_2"], default, large, STARTUP)


def test_main_reads_the_runs_own_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The run's config.resolved.yaml, not the checkout's config.yaml: an older default whose
    attention_regression ran at N = 200 names parts ..._n200_snr2, which config.yaml's N would
    not find."""
    default = default_config_with()
    default["attention_regression"]["sizes"] = [200]
    version = tmp_path / "paper-old"
    (version / "cost").mkdir(parents=True)
    (version / "config.resolved.yaml").write_text(yaml.safe_dump(default, sort_keys=True))
    cost_table(default, {"attention_regression_linear_n200_snr2": 13.0}).to_csv(
        version / "cost" / "cost.csv", index=False)
    assert large_estimate.main([str(version)]) == 0
    out = capsys.readouterr().out
    assert "180 compute jobs" in out
    # linear at N = 5000 from N = 200: (5000/200)^2 x 10 fits (2 runs x 5 replicates) / 5 (the
    # default's 1 run x 5) x 10 s + 3 s, the longest job
    assert "longest job: attention_regression_linear_n5000_snr" in out
    assert f"~{(625 * 10 / 5 * 10 + 3) / 60:.0f} min" in out
    assert "per stage (CPU core-hours):" in out and "device: cuda" in out


def test_a_packed_job_is_shared_out_by_work_and_packed_again() -> None:
    """The small large config's sensitivity_1 and _2 share a job (config.packed_jobs): a run
    of it that packed them has the job's compute split over the two parts by their work, and
    packing the parts' estimates again gives that compute back plus one start-up."""
    _, config = small_configs()
    shared = [(job, parts) for job, parts in icl_jobs(config["icl"]).items() if len(parts) > 1]
    assert shared, "the small large config packs no icl parts: this test needs one that does"
    job, parts = shared[0]
    work = icl_part_work(config["icl"])
    split = large_estimate.unpacked({f"icl_{job}": STARTUP + 20.0}, config, STARTUP)
    for part in parts:
        share = work[part] / sum(work[p] for p in parts)
        assert split[f"icl_{part}"] == pytest.approx(STARTUP + 20.0 * share)
    again = large_estimate.packed(split, config, STARTUP)
    assert again[f"icl_{job}"] == pytest.approx(STARTUP + 20.0)
