"""Does training find the OLS-Transformer, and do the paper's "modern designs" make it robust?
Transformers trained on in-context regression (beyond the paper).

Tasks, fresh every training step: w ~ N(0, I_d), inputs x ~ N(0, Lambda), Lambda diagonal
(``icl.lambdas``), N context pairs and a query, y = w^T x + eps (``icl_theory``). The models
(``icl_models``): stacks of L linear self-attention (LSA) layers, trained by the moment path
(the query's expectation taken exactly, the context's second moment drawn exactly from its
Wishart law: a step costs the same for every N), and the token-path designs of the paper's
Sec. 5 next to the one-layer linear model: one softmax-attention layer, two-head linear
attention, linear attention followed by a GELU MLP (``icl.designs``), trained on token batches
of the same tasks (``QUERIES`` queries per task), at (shift.lambda, shift.context_size).

Every model is trained by one rule (``icl_training.fit``): Adam up to the step cap
``icl.steps`` with early stopping on held-out validation tasks (``eval_every``, ``patience``);
the steps it used are in the tables. Trained stacks stand next to L steps of Gamma*-
preconditioned gradient descent with the step size tuned per L on separate tasks (what an
L-layer stack can represent; ``icl_theory.tune_pgd``), ridge (Bayes optimal), in-context OLS
and the OLS-Transformer with Lambda^-1 or Gamma*.

Covariate shift (Sec. 3, ``shift.py``'s families) and task shift (w ~ N(0, c^2 I)) at test time
for every model trained at (shift.lambda, shift.context_size), with eq. 10's population error
for Lambda^-1 and for the learned one-layer Gamma.

The sensitivity grid (``icl.sensitivity``): on a reduced setting, the stacks trained again with
one choice changed at a time (step cap, learning rate, init random vs Zhang-Frei-Bartlett, clip
on/off), each on its seeds: ``icl_sensitivity``, which the checks re-judge the rows across.

The stage runs as parts (one per Lambda, one for the designs, one for the sensitivity grid:
``run_part``) gathered by ``gather``; ``run`` does all of it in one call.

Randomness: numpy generators seeded [population_seed, stream, crc32(name), N, seed, ...]; the
tables are a function of the config, whichever part computes them.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import icl_training as tr
from .. import shift as sm
from ..config import ConfigError, icl_lsa_groups, icl_parts, icl_problems
from ..construction import in_context_predict, second_moment, whitener
from ..hopfield import resolve_device
from ..icl_models import (
    PREDICT,
    design_weights,
    initial_weights,
    lsa_coefficients,
    random_weights,
    read_gamma,
)
from ..icl_theory import (
    Tasks,
    context_ols,
    draw_tasks,
    eigenvalues,
    eq10_relative_error,
    gamma_excess_risk,
    gamma_star,
    moment_draws,
    ols_excess_risk,
    pgd_polynomial,
    pgd_weights,
    relative_frobenius,
    ridge,
    token_tasks,
    tune_pgd,
    wishart_moments,
)

TRAIN, INIT, TEST, TUNE, SHIFT, VALID = range(6)  # random streams
QUERIES = 8  # queries per task in a token batch (the designs): 8 targets per drawn context
TASK_SCALE, NO_SHIFT = sm.TASK_SCALE, sm.ICL_NO_SHIFT
DTYPE = torch.float64
DEFAULT = "default"  # the sensitivity variant with the main run's choices


# ---- config ----------------------------------------------------------------------------------

def validate(cfg: Mapping[str, Any]) -> None:
    """ConfigError (a ValueError) naming every bad value of the ``icl`` section and its fix
    (``config.icl_problems``, the section's rules), before any training."""
    found = icl_problems(cfg)
    if found:
        raise ConfigError("; ".join(found))


def _rng(cfg: Mapping[str, Any], stream: int, *parts: int | str) -> np.random.Generator:
    key = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) for p in parts]
    return np.random.default_rng([int(cfg["population_seed"]), stream, *key])


# ---- runs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One trained setting: its task distribution, seed and budget choices."""

    name: str  # key of icl.lambdas
    N: int
    seed: int
    variant: str = DEFAULT
    learning_rate: float = math.nan
    cap: int = 0
    clip: float = 0.0
    init: str = "zfb"  # zfb (Zhang-Frei-Bartlett) or random


def main_runs(cfg: Mapping[str, Any], name: str) -> list[Run]:
    """The main runs of Lambda ``name``: every N and seed with the config's budget."""
    return [Run(name, int(N), int(seed), DEFAULT, float(cfg["learning_rate"]), int(cfg["steps"]),
                float(cfg["grad_clip"])) for N in cfg["context_sizes"] for seed in cfg["seeds"]]


def sensitivity_variants(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """label -> the budget of one variant: the main choices, and each alternative of
    ``icl.sensitivity`` changed alone."""
    s = cfg["sensitivity"]
    base = {"learning_rate": float(cfg["learning_rate"]), "cap": int(cfg["steps"]),
            "clip": float(cfg["grad_clip"]), "init": "zfb"}
    out = {DEFAULT: base}
    for field, key, label in (("steps", "cap", "steps"), ("learning_rates", "learning_rate", "lr"),
                              ("inits", "init", "init"), ("grad_clips", "clip", "clip")):
        for value in s.get(field, []):
            if value != base[key]:
                out[f"{label}={value}"] = {**base, key: value}
    return out


def sensitivity_runs(cfg: Mapping[str, Any]) -> list[Run]:
    s = cfg["sensitivity"]
    return [Run(s["lambda"], int(N), int(seed), label, float(v["learning_rate"]), int(v["cap"]),
                float(v["clip"]), str(v["init"]))
            for label, v in sensitivity_variants(cfg).items()
            for N in s["context_sizes"] for seed in s["seeds"]]


def _budget(cfg: Mapping[str, Any], runs: Sequence[Run]) -> tr.Budget:
    return tr.Budget(np.array([r.learning_rate for r in runs]), np.array([r.cap for r in runs]),
                     np.array([r.clip for r in runs]), int(cfg["eval_every"]),
                     int(cfg["patience"]))


# ---- training: LSA stacks (moment path) ------------------------------------------------------

def train_lsa(cfg: Mapping[str, Any], runs: Sequence[Run], depths: Sequence[int],
              device: torch.device | None = None
              ) -> tuple[dict[int, tuple[torch.Tensor, torch.Tensor]], tr.Fit]:
    """Every depth of every run at once (Adam is elementwise, the loss a sum over independent
    models; each run on its own stream of tasks shared by its depths). Returns depth ->
    (W_KQ, W_PV), each (runs, depth, p, p) on the CPU, and the fit (groups = depths)."""
    device = device or torch.device("cpu")
    d, B, sigma = int(cfg["d"]), int(cfg["batch_size"]), float(cfg["noise_sigma"])
    depths = sorted(int(L) for L in depths)
    lam = torch.tensor(np.stack([eigenvalues(cfg["lambdas"][r.name], d) for r in runs]),
                       dtype=DTYPE, device=device)[:, None, :]
    N = torch.tensor([r.N for r in runs], dtype=DTYPE, device=device)[:, None, None]
    streams = [_rng(cfg, TRAIN, r.name, r.N, r.seed, r.variant) for r in runs]
    valid_draws = torch.from_numpy(np.stack([
        moment_draws(_rng(cfg, VALID, r.name, r.N, r.seed), r.N, int(cfg["validation_tasks"]), d)
        for r in runs])).to(device)
    S_valid, w_valid = wishart_moments(valid_draws, lam, N, sigma)
    params: dict[str, torch.Tensor] = {}
    group_of: dict[str, int] = {}
    for g, L in enumerate(depths):
        starts = [(random_weights if r.init == "random" else initial_weights)(
            _rng(cfg, INIT, r.name, r.N, r.seed, L), L, d, float(cfg["init_scale"]))
            for r in runs]
        for key, w in zip("KV", zip(*starts, strict=True), strict=True):
            params[f"{key}{L}"] = torch.tensor(np.stack(w), dtype=DTYPE,
                                               device=device).requires_grad_(True)
            group_of[f"{key}{L}"] = g

    def excess(S: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        rows = []
        for L in depths:
            gap = w - lsa_coefficients(S, params[f"K{L}"], params[f"V{L}"])
            rows.append((gap * gap * lam).sum(-1).mean(-1))  # (runs,)
        return torch.stack(rows)

    def train_loss(step: int) -> torch.Tensor:
        draws = torch.from_numpy(np.stack([moment_draws(rng, r.N, B, d)
                                           for rng, r in zip(streams, runs, strict=True)]))
        return excess(*wishart_moments(draws.to(device), lam, N, sigma))

    def describe(g: int, m: int) -> str:
        r = runs[m]
        return (f"lambda={r.name}, N={r.N}, seed={r.seed}, depth={depths[g]}, variant={r.variant}"
                f", batch_size={B}, init_scale={cfg['init_scale']}")

    fit = tr.fit(params, group_of, train_loss, lambda: excess(S_valid, w_valid),
                 _budget(cfg, runs), describe)
    return {L: (fit.params[f"K{L}"], fit.params[f"V{L}"]) for L in depths}, fit


def train(cfg: Mapping[str, Any], device: torch.device | None = None
          ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The main stacks of every Lambda, N, seed (in ``main_runs`` order, Lambdas in config
    order): depth -> (W_KQ, W_PV), each (runs, depth, p, p)."""
    runs = [r for name in cfg["lambdas"] for r in main_runs(cfg, name)]
    return train_lsa(cfg, runs, cfg["depths"], device)[0]


# ---- training: the designs (token path) ------------------------------------------------------

def train_designs(cfg: Mapping[str, Any], device: torch.device | None = None
                  ) -> tuple[dict[str, dict[str, torch.Tensor]], tr.Fit, list[Run]]:
    """Every design of ``icl.designs`` for every seed at (shift.lambda, shift.context_size),
    with the stacks' budget rule. Returns design -> its parameters (leading axis: seeds), the fit
    (groups = designs) and the runs."""
    device = device or torch.device("cpu")
    designs = list(cfg["designs"])
    d, B, sigma = int(cfg["d"]), int(cfg["batch_size"]), float(cfg["noise_sigma"])
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    runs = [r for r in main_runs(cfg, name) if r.N == N]
    lam = eigenvalues(cfg["lambdas"][name], d)
    streams = [_rng(cfg, TRAIN, name, N, r.seed, "tokens") for r in runs]
    count = max(1, int(cfg["validation_tasks"]) // QUERIES)
    valid = [token_tasks(_rng(cfg, VALID, name, N, r.seed, "tokens"), lam, N, QUERIES, sigma,
                         count) for r in runs]
    valid_t = [torch.from_numpy(np.stack(part)).to(device) for part in zip(*valid, strict=True)]
    params: dict[str, torch.Tensor] = {}
    group_of: dict[str, int] = {}
    for g, design in enumerate(designs):
        starts = [design_weights(design, _rng(cfg, INIT, name, N, r.seed, design), d,
                                 float(cfg["init_scale"]), int(cfg["heads"]),
                                 int(cfg["mlp_width"])) for r in runs]
        for key in starts[0]:
            params[f"{design}.{key}"] = torch.tensor(np.stack([s[key] for s in starts]),
                                                     dtype=DTYPE, device=device
                                                     ).requires_grad_(True)
            group_of[f"{design}.{key}"] = g

    def of(design: str) -> dict[str, torch.Tensor]:
        return {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(design + ".")}

    def loss(context: torch.Tensor, queries: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        return torch.stack([((PREDICT[design](of(design), context, queries) - truth) ** 2)
                            .mean((-1, -2)) for design in designs])

    def train_loss(step: int) -> torch.Tensor:
        batch = [token_tasks(rng, lam, N, QUERIES, sigma, B) for rng in streams]
        return loss(*(torch.from_numpy(np.stack(part)).to(device)
                      for part in zip(*batch, strict=True)))

    def describe(g: int, m: int) -> str:
        return (f"design={designs[g]}, lambda={name}, N={N}, seed={runs[m].seed}, "
                f"batch_size={B}, init_scale={cfg['init_scale']}")

    fit = tr.fit(params, group_of, train_loss, lambda: loss(*valid_t), _budget(cfg, runs),
                 describe)
    return ({design: {k.split(".", 1)[1]: v for k, v in fit.params.items()
                      if k.startswith(design + ".")} for design in designs}, fit, runs)


# ---- baselines and evaluation ----------------------------------------------------------------

def transformer_predict(W: torch.Tensor, tasks: Tasks) -> np.ndarray:
    """The OLS-Transformer in context with slow memory W W^T (construction.in_context_predict).
    Shape: W (d, d) -> (B,)."""
    t = torch.from_numpy
    out = in_context_predict(W, t(tasks.X), t(tasks.y[..., None]), t(tasks.xq[:, None, :]))
    return out[:, 0, 0].numpy()


def _linear(tasks: Tasks, coef: np.ndarray) -> np.ndarray:
    return np.einsum("bd,bd->b", tasks.xq, coef)


def _errors(prediction: np.ndarray, tasks: Tasks) -> dict[str, float]:
    return {"risk": float(np.mean((prediction - tasks.yq) ** 2)),
            "excess_risk": float(np.mean((prediction - tasks.truth) ** 2))}


def lsa_test_predict(S: torch.Tensor, tasks: Tasks, K: torch.Tensor, V: torch.Tensor
                     ) -> np.ndarray:
    """The trained stack on test tasks by the moment path (equal to ``lsa_predict`` on their
    tokens; tests check it). Shape: S (B, p, p) of the tasks' contexts, K, V (L, p, p) -> (B,)."""
    with torch.no_grad():
        u = lsa_coefficients(S, K, V).numpy()
    return _linear(tasks, u)


def design_test_predict(design: str, params: Mapping[str, torch.Tensor], tasks: Tasks
                        ) -> np.ndarray:
    """A trained design (leading axis: seeds) on test tasks' tokens. -> (seeds, B)."""
    M = next(iter(params.values())).shape[0]
    context = tasks.context().expand(M, -1, -1, -1)
    queries = tasks.queries().expand(M, -1, -1, -1)
    with torch.no_grad():
        return PREDICT[design](dict(params), context, queries)[..., 0].numpy()


def baseline_rows(cfg: Mapping[str, Any], name: str, N: int, tasks: Tasks,
                  depths: Sequence[int]) -> list[dict[str, Any]]:
    """icl_risk rows of the untrained models on the test tasks of (name, N): the OLS-Transformer
    with Gamma* and with Lambda^-1, in-context OLS, ridge, and tuned L-step PGD per depth."""
    d, sigma = int(cfg["d"]), float(cfg["noise_sigma"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    star = gamma_star(lam, N, sigma)
    base = _base(cfg, name, N)
    rows = []
    for model, gamma in (("gamma_star", star), ("ols_transformer", np.diag(1 / lam))):
        W = whitener(torch.from_numpy(np.linalg.inv(gamma)))  # W W^T = gamma
        rows.append({**base, "model": model, "depth": 1, "seed": -1,
                     **_errors(transformer_predict(W, tasks), tasks),
                     "excess_theory": gamma_excess_risk(gamma, lam, N, sigma)})
    for model, coef, theory in (
            ("context_ols", context_ols(tasks.X, tasks.y), ols_excess_risk(d, N, sigma)),
            ("ridge", ridge(tasks.X, tasks.y, sigma), math.nan)):
        rows.append({**base, "model": model, "depth": 0, "seed": -1,
                     **_errors(_linear(tasks, coef), tasks), "excess_theory": theory})
    tuning = draw_tasks(_rng(cfg, TUNE, name, N), lam, N, sigma, int(cfg["test_tasks"]))
    for L, eta in tune_pgd(tuning, lam, star, depths).items():
        coef = pgd_weights(pgd_polynomial(tasks.X, tasks.y, star, L), eta)
        rows.append({**base, "model": "pgd", "depth": L, "seed": -1,
                     **_errors(_linear(tasks, coef), tasks), "step": eta})
    return rows


def _base(cfg: Mapping[str, Any], name: str, N: int) -> dict[str, Any]:
    return {"lambda": name, "N": N, "d": int(cfg["d"]), "noise_sigma": float(cfg["noise_sigma"]),
            "test_tasks": int(cfg["test_tasks"])}


def evaluation_tasks(cfg: Mapping[str, Any], name: str, N: int) -> Tasks:
    """The test tasks of (name, N), shared by every model and part."""
    lam = eigenvalues(cfg["lambdas"][name], int(cfg["d"]))
    return draw_tasks(_rng(cfg, TEST, name, N), lam, N, float(cfg["noise_sigma"]),
                      int(cfg["test_tasks"]))


def evaluate_lsa(cfg: Mapping[str, Any], runs: Sequence[Run], depths: Sequence[int],
                 models: Mapping[int, tuple[torch.Tensor, torch.Tensor]], fit: tr.Fit
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """icl_preconditioner (per run) and icl_risk (baselines per (name, N), then per run and
    depth) on the shared test tasks."""
    d, sigma = int(cfg["d"]), float(cfg["noise_sigma"])
    depths = sorted(int(L) for L in depths)
    pre_rows, risk_rows = [], []
    for name, N in dict.fromkeys((r.name, r.N) for r in runs):
        lam = eigenvalues(cfg["lambdas"][name], d)
        tasks = evaluation_tasks(cfg, name, N)
        S = second_moment(tasks.context())
        h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
        star, inverse = gamma_star(lam, N, sigma), np.diag(1 / lam)
        baselines = baseline_rows(cfg, name, N, tasks, depths)
        risk_rows += baselines
        pgd = {row["depth"]: row["excess_risk"] for row in baselines if row["model"] == "pgd"}
        for index, r in enumerate(runs):
            if (r.name, r.N) != (name, N):
                continue
            for g, L in enumerate(depths):
                K, V = models[L][0][index], models[L][1][index]
                pred = lsa_test_predict(S, tasks, K, V)
                risk_rows.append({**_base(cfg, name, N), "model": "lsa", "depth": L,
                                  "seed": r.seed, "variant": r.variant, **_errors(pred, tasks),
                                  "pgd_excess_risk": pgd[L],  # what the stack can represent
                                  "steps_used": int(fit.steps_used[g, index]),
                                  "best_step": int(fit.best_step[g, index])})
                if L == 1:
                    pre_rows.append({**_base(cfg, name, N), "seed": r.seed,
                                     "variant": r.variant, **preconditioner_row(
                                         K[0], V[0], pred, tasks, h, star, inverse)})
    return pd.DataFrame(pre_rows), pd.DataFrame(risk_rows)


def preconditioner_row(K: torch.Tensor, V: torch.Tensor, prediction: np.ndarray, tasks: Tasks,
                       h: np.ndarray, star: np.ndarray, inverse: np.ndarray) -> dict[str, float]:
    """Distances of the learned Gamma (one layer K, V: (p, p)) to Gamma* and Lambda^-1, the
    ratio ||Gamma - Gamma*||_F / ||Gamma* - Lambda^-1||_F (Lambda^-1 itself has 1), the nuisance
    share of its predictions and the three matrices entry by entry."""
    gamma = read_gamma(K, V).numpy()
    bilinear = np.einsum("bi,ij,bj->b", tasks.xq, gamma, h)
    row = {
        "dist_to_gamma_star": relative_frobenius(gamma, star),
        "dist_to_inverse": relative_frobenius(gamma, inverse),
        "star_dist_to_inverse": relative_frobenius(star, inverse),
        "gamma_gap_ratio": float(np.linalg.norm(gamma - star) / np.linalg.norm(star - inverse)),
        # RMS of the prediction not explained by x_q^T Gamma h, relative to the prediction
        "nuisance_ratio": float(np.sqrt(np.mean((prediction - bilinear) ** 2)
                                        / np.mean(prediction**2))),
    }
    for label, matrix in (("learned", gamma), ("star", star), ("inverse", inverse)):
        row.update({f"{label}_{i}_{j}": float(matrix[i, j])
                    for i in range(len(matrix)) for j in range(len(matrix))})
    return row


def history_rows(fit: tr.Fit, runs: Sequence[Run], labels: Sequence[tuple[str, int]]
                 ) -> pd.DataFrame:
    """icl_training: the loss history, one row per (model, depth, seed, evaluation)."""
    rows = [{"lambda": runs[m].name, "N": runs[m].N, "seed": runs[m].seed,
             "model": labels[g][0], "depth": labels[g][1], "step": step, "train_loss": t,
             "valid_loss": v} for step, g, m, t, v in fit.history]
    return pd.DataFrame(rows)


# ---- test-time shift -------------------------------------------------------------------------

Predictor = Callable[[Tasks, torch.Tensor], np.ndarray]  # (tasks, their S) -> (models, B)


@dataclass(frozen=True)
class ShiftModel:
    """A model (or a batch of seeds) evaluated under shift; ``gamma`` (seeds, d, d) for eq. 10
    with its learned preconditioner, where it has one."""

    model: str
    depth: int
    seeds: tuple[int, ...]
    predict: Predictor
    gamma: np.ndarray | None = None


def shift_rows(cfg: Mapping[str, Any], models: Sequence[ShiftModel]) -> pd.DataFrame:
    """icl_shift rows of ``models`` (trained on shift.lambda at shift.context_size) on shifted
    inputs (shift.py's families) or tasks (task_scale), one row per (family, magnitude, model,
    depth, seed); common random numbers across families, magnitudes and parts."""
    d, sigma, count = int(cfg["d"]), float(cfg["noise_sigma"]), int(cfg["test_tasks"])
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    direction = _rng(cfg, SHIFT, name, "direction").standard_normal(d)
    base = sm.BaseStructure(lam, np.eye(d), direction / np.linalg.norm(direction))
    rows = []
    for family, magnitudes in cfg["shift"]["families"].items():
        for t in (float(m) for m in magnitudes):
            if family == TASK_SCALE:
                population, scale = base.population, t
            else:
                population, scale = sm.shifted_population(family, t, base), 1.0
            s_te = population.second_moment
            tasks = draw_tasks(_rng(cfg, SHIFT, name, N), lam, N, sigma, count, population,
                               scale)
            S = second_moment(tasks.context())
            head = {"family": family, "magnitude": t, "no_shift": t == NO_SHIFT[family],
                    "lambda": name, "N": N,
                    "eq10_predicted": eq10_relative_error(np.diag(1 / lam) @ s_te, s_te)}
            truth = tasks.truth
            for m in models:
                predictions = np.atleast_2d(m.predict(tasks, S))
                for i, seed in enumerate(m.seeds):
                    learned = (eq10_relative_error(m.gamma[i] @ s_te, s_te)
                               if m.gamma is not None else math.nan)
                    rows.append({**head, "model": m.model, "depth": m.depth, "seed": seed,
                                 "relerr": sm.relative_error(predictions[i], truth),
                                 "eq10_learned": learned})
    return pd.DataFrame(rows)


def baseline_shift_models(cfg: Mapping[str, Any]) -> list[ShiftModel]:
    lam = eigenvalues(cfg["lambdas"][cfg["shift"]["lambda"]], int(cfg["d"]))
    inverse_W = whitener(torch.from_numpy(np.diag(lam)))
    sigma = float(cfg["noise_sigma"])
    return [ShiftModel("ols_transformer", 1, (-1,),
                       lambda tasks, S: transformer_predict(inverse_W, tasks)),
            ShiftModel("context_ols", 0, (-1,),
                       lambda tasks, S: _linear(tasks, context_ols(tasks.X, tasks.y))),
            ShiftModel("ridge", 0, (-1,),
                       lambda tasks, S: _linear(tasks, ridge(tasks.X, tasks.y, sigma)))]


def lsa_shift_models(runs: Sequence[Run], models: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
                     indices: Sequence[int]) -> list[ShiftModel]:
    out = []
    seeds = tuple(runs[i].seed for i in indices)
    for L, (K, V) in sorted(models.items()):
        Ks, Vs = K[list(indices)], V[list(indices)]

        def predict(tasks: Tasks, S: torch.Tensor, Ks: torch.Tensor = Ks,
                    Vs: torch.Tensor = Vs) -> np.ndarray:
            return np.stack([lsa_test_predict(S, tasks, k, v) for k, v in zip(Ks, Vs,
                                                                               strict=True)])
        gamma = read_gamma(Ks[:, 0], Vs[:, 0]).numpy() if L == 1 else None
        out.append(ShiftModel("lsa", L, seeds, predict, gamma))
    return out


# ---- the parts and the stage -----------------------------------------------------------------

def run_part(cfg: Mapping[str, Any], part: str, device: torch.device | None = None
             ) -> dict[str, pd.DataFrame]:
    """One job's tables (a subset of icl_preconditioner, icl_risk, icl_shift, icl_training,
    icl_sensitivity), rows that ``gather`` concatenates."""
    validate(cfg)
    device = device or resolve_device(str(cfg["device"]), "icl.device")
    if part not in icl_parts(cfg):
        raise ValueError(f"unknown icl part {part!r}; known: {', '.join(icl_parts(cfg))}")
    if part.startswith("lsa_"):
        return _lsa_part(cfg, icl_lsa_groups(cfg)[int(part.removeprefix("lsa_")) - 1], device)
    if part == "designs":
        return _designs_part(cfg, device)
    return _sensitivity_part(cfg, device)


def _lsa_part(cfg: Mapping[str, Any], names: Sequence[str], device: torch.device
              ) -> dict[str, pd.DataFrame]:
    runs = [r for name in names for r in main_runs(cfg, name)]
    depths = sorted(int(L) for L in cfg["depths"])
    models, fit = train_lsa(cfg, runs, depths, device)
    pre, risk = evaluate_lsa(cfg, runs, depths, models, fit)
    out = {"icl_preconditioner": pre.drop(columns="variant"),
           "icl_risk": risk.drop(columns="variant"),
           "icl_training": history_rows(fit, runs, [("lsa", L) for L in depths])}
    if cfg["shift"]["lambda"] in names:
        name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
        indices = [i for i, r in enumerate(runs) if (r.name, r.N) == (name, N)]
        out["icl_shift"] = shift_rows(cfg, baseline_shift_models(cfg)
                                      + lsa_shift_models(runs, models, indices))
    return out


def _designs_part(cfg: Mapping[str, Any], device: torch.device) -> dict[str, pd.DataFrame]:
    trained, fit, runs = train_designs(cfg, device)
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    tasks = evaluation_tasks(cfg, name, N)
    rows = []
    for g, (design, params) in enumerate(trained.items()):
        predictions = design_test_predict(design, params, tasks)
        for m, r in enumerate(runs):
            rows.append({**_base(cfg, name, N), "model": design, "depth": 1, "seed": r.seed,
                         **_errors(predictions[m], tasks),
                         "steps_used": int(fit.steps_used[g, m]),
                         "best_step": int(fit.best_step[g, m])})
    seeds = tuple(r.seed for r in runs)
    shifted = [ShiftModel(design, 1, seeds,
                          lambda tasks, S, design=design, params=params:
                          design_test_predict(design, params, tasks))
               for design, params in trained.items()]
    return {"icl_risk": pd.DataFrame(rows), "icl_shift": shift_rows(cfg, shifted),
            "icl_training": history_rows(fit, runs, [(design, 1) for design in trained])}


def _sensitivity_part(cfg: Mapping[str, Any], device: torch.device) -> dict[str, pd.DataFrame]:
    runs = sensitivity_runs(cfg)
    depths = sorted(int(L) for L in cfg["sensitivity"]["depths"])
    models, fit = train_lsa(cfg, runs, depths, device)
    pre, risk = evaluate_lsa(cfg, runs, depths, models, fit)
    baselines = risk[risk["model"] != "lsa"]
    # every variant shares the test tasks: its checks see the same baselines
    risk = pd.concat([risk[risk["model"] == "lsa"]] + [
        baselines.assign(variant=v) for v in sensitivity_variants(cfg)], ignore_index=True)
    return {"icl_sensitivity": pd.concat([risk.assign(table="icl_risk"),
                                          pre.assign(table="icl_preconditioner")],
                                         ignore_index=True)}


TABLES = ("icl_preconditioner", "icl_risk", "icl_shift", "icl_training", "icl_sensitivity")


def gather(pieces: Sequence[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The stage's tables from its parts' (concatenated in part order), and icl_growth, the
    error growth under shift (``shift.error_growth``) that the figures draw."""
    tables = {name: pd.concat([p[name] for p in pieces if name in p], ignore_index=True)
              for name in TABLES if any(name in p for p in pieces)}
    if "icl_shift" in tables:
        tables["icl_growth"] = sm.error_growth(tables["icl_shift"])
    return tables


def run(cfg: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The whole stage in one call (tests, notebooks): every part, gathered."""
    validate(cfg)
    device = resolve_device(str(cfg["device"]), "icl.device")
    return gather([run_part(cfg, part, device) for part in icl_parts(cfg)])
