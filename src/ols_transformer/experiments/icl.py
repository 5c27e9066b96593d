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

Replicates: each seed of ``icl.seeds`` is an independent replicate of the whole experiment. Every
random stream of seed s is its own: training tasks, starts, validation tasks, test tasks, the
shift direction and the shifted test tasks (numpy generators seeded [population_seed, stream,
crc32(name), N, seed, ...]), so the rows of different seeds are independent draws and an interval
over seeds covers what it says. The untrained baselines are evaluated per seed on that seed's
test tasks (their rows carry the seed); only the references' step sizes (``pgd``, ``gd_tuned``)
are tuned once per (Lambda, N), on tuning tasks of their own: they define the reference, as a
learning rate defines a model. The seeds of a setting train side by side (a leading model axis in
``icl_training.fit``), so more replicates are a larger batch, not more jobs. The tables are a
function of the config, whichever part computes them.
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
from ..config import (
    ConfigError,
    icl_lsa_groups,
    icl_parts,
    icl_problems,
    icl_sensitivity_jobs,
    icl_sensitivity_variants,
)
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
    bayes_ridge,
    context_ols,
    draw_tasks,
    eigenvalues,
    eq10_relative_error,
    gamma_excess_risk,
    gamma_star,
    gd_steps,
    moment_draws,
    ols_excess_risk,
    pgd_polynomial,
    pgd_weights,
    relative_frobenius,
    ridge,
    token_tasks,
    tune_gd_steps,
    tune_pgd,
    wishart_moments,
)
from . import concat_tables

TRAIN, INIT, TEST, TUNE, SHIFT, VALID = range(6)  # random streams
QUERIES = 8  # queries per task in a token batch (the designs): 8 targets per drawn context
TASK_SCALE, NO_SHIFT = sm.TASK_SCALE, sm.ICL_NO_SHIFT
DTYPE = torch.float64
DEFAULT = "default"  # the sensitivity variant with the main run's choices
NORM = "lsa_norm"  # the normalised stack (pre-norm LayerNorm and residuals)


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


# ---- runs ----------------------------------------------------------------------------------

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


Member = tuple[Run, int]  # a run and the index of its start (restarts, then retries)


def main_runs(cfg: Mapping[str, Any], name: str, sizes: Sequence[int] | None = None
              ) -> list[Run]:
    """The main runs of Lambda ``name``: every N (of ``sizes``, default the grid) and seed with
    the config's budget."""
    return [Run(name, int(N), int(seed), DEFAULT, float(cfg["learning_rate"]), int(cfg["steps"]),
                float(cfg["grad_clip"]))
            for N in (sizes if sizes is not None else cfg["context_sizes"])
            for seed in cfg["seeds"]]


def sensitivity_variants(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """label -> the budget of one alternative of the sensitivity grid
    (``config.icl_sensitivity_variants``)."""
    return icl_sensitivity_variants(cfg)


def sensitivity_runs(cfg: Mapping[str, Any], label: str,
                     pairs: Sequence[tuple[str, int]] | None = None) -> list[Run]:
    """The runs of one alternative: the (Lambda, N) ``pairs`` (default: the main grid's Lambdas
    at the grid's N, ``sensitivity.context_sizes`` or every one), the grid's seeds."""
    s, v = cfg["sensitivity"], sensitivity_variants(cfg)[label]
    if pairs is None:
        pairs = [(str(name), int(N)) for name in cfg["lambdas"]
                 for N in s.get("context_sizes", cfg["context_sizes"])]
    return [Run(str(name), int(N), int(seed), label, float(v["learning_rate"]), int(v["cap"]),
                float(v["clip"]), str(v["init"]))
            for name, N in pairs for seed in s["seeds"]]


def _budget(cfg: Mapping[str, Any], runs: Sequence[Run],
            groups: Sequence[tuple[str, int]] = ()) -> tr.Budget:
    """The runs' budgets; the group (model, depth L) of a stack trains at the learning rate
    times ``depth_scale``."""
    return tr.Budget(np.array([r.learning_rate for r in runs]), np.array([r.cap for r in runs]),
                     np.array([r.clip for r in runs]), int(cfg["eval_every"]),
                     int(cfg["patience"]), float(cfg["tolerance"]), int(cfg["lr_reductions"]),
                     tuple(depth_scale(L, model) for model, L in groups))


def depth_scale(L: int, model: str = "lsa") -> float:
    """The factor on the learning rate of a stack of depth L: 1 / L for the plain LSA stack,
    1 / L^2 for the normalised one (``NORM``); 1 for one layer.

    Adam moves every weight by about the learning rate per step whatever its gradient, so the L
    layers of a plain stack move its prediction about L times as far as one layer: lr / L keeps
    that step. Measured on the default grid (depths 1-3, 3 seeds, lsa_init_scale 0.3, the
    divergence rule of ``icl_training``): at lr / L every one of 144 starts converged, the stack
    jobs took 53 s of CPU and L = 3 stood below L = 2 at every (Lambda, N); at lr / L^2, 2 starts
    of L = 3 diverged (retried), 110 s, and L = 3 was above L = 2 at one (anisotropic, N = 40,
    1.01 times). The normalised stacks keep the rule chosen for them before, lr / L^2 (measured
    then on the plain stack at depth 2, isotropic, N = 20, lsa_init_scale 0.1: at lr / sqrt(L)
    14 of 18 starts diverged, at lr / L^2 2 of 18)."""
    return 1.0 / L**2 if model == NORM else 1.0 / L


def _start_key(start: int) -> tuple[int, ...]:
    """The random-key suffix of a start: none for start 0 (the first restart)."""
    return (start,) if start else ()


# ---- restarts, retries and the start kept --------------------------------------------------

RETRIES = 2  # rounds of retrying a diverged start from a fresh one
AGREE = 0.02  # converged starts agree when their best validation losses are within 2 %


@dataclass(frozen=True)
class Trained:
    """The start kept for each run (the converged one with the least validation loss), per
    group (model, depth) ``labels``: its weights (leading axis: runs), steps used, step kept
    and status (G, runs); ``convergence``: one row per (run, group, start tried); ``training``:
    the kept starts' loss histories."""

    params: dict[str, torch.Tensor]
    labels: list[tuple[str, int]]
    steps_used: np.ndarray
    best_step: np.ndarray
    status: np.ndarray
    convergence: pd.DataFrame
    training: pd.DataFrame


def converge(cfg: Mapping[str, Any], runs: Sequence[Run], labels: Sequence[tuple[str, int]],
             group_of: Mapping[str, int],
             trainer: Callable[[Sequence[Member]], tr.Fit]) -> Trained:
    """Train ``icl.restarts`` starts of every run side by side (one batch), retry each start
    that diverged (in any group) from a fresh start, up to RETRIES rounds, and keep per (group,
    run) the converged start of least validation loss (else the best that hit its cap; a run
    whose every start diverged keeps one, marked diverged). Diverged starts are reported in
    ``convergence``, never kept while another start converged."""
    restarts = int(cfg["restarts"])
    members = [(i, k) for i in range(len(runs)) for k in range(restarts)]
    attempts: list[tuple[int, list[tuple[int, int]], tr.Fit]] = []
    for attempt in range(RETRIES + 1):
        fit = trainer([(runs[i], k) for i, k in members])
        attempts.append((attempt, members, fit))
        again = [j for j in range(len(members)) if (fit.status[:, j] == tr.DIVERGED).any()]
        if not again:
            break
        members = [(members[j][0], members[j][1] + restarts) for j in again]
    order = {tr.CONVERGED: 0, tr.CAP: 1, tr.DIVERGED: 2}
    G = len(labels)
    steps_used = np.zeros((G, len(runs)), dtype=int)
    best_step = np.zeros((G, len(runs)), dtype=int)
    status = np.full((G, len(runs)), tr.DIVERGED, dtype=object)
    chosen: dict[tuple[int, int], tuple[int, int]] = {}
    rows, history = [], []
    for g, (model, depth) in enumerate(labels):
        for i, r in enumerate(runs):
            tried = [(a, j) for a, mem, _ in attempts for j, (ii, _) in enumerate(mem) if ii == i]

            def key(aj: tuple[int, int], g: int = g) -> tuple[int, float]:
                f = attempts[aj[0]][2]
                loss = f.best_loss[g, aj[1]]
                return order[str(f.status[g, aj[1]])], loss if np.isfinite(loss) else np.inf

            a, j = min(tried, key=key)
            chosen[(g, i)] = (a, j)
            f = attempts[a][2]
            steps_used[g, i], best_step[g, i] = f.steps_used[g, j], f.best_step[g, j]
            status[g, i] = f.status[g, j]
            good = [attempts[aa][2].best_loss[g, jj] for aa, jj in tried
                    if attempts[aa][2].status[g, jj] == tr.CONVERGED]
            agree = sum(v <= min(good) * (1 + AGREE) for v in good) if good else 0
            for aa, jj in tried:
                ff = attempts[aa][2]
                rows.append({"lambda": r.name, "N": r.N, "seed": r.seed, "variant": r.variant,
                             "model": model, "depth": depth,
                             "start": attempts[aa][1][jj][1], "attempt": aa,
                             "status": str(ff.status[g, jj]),
                             "steps_used": int(ff.steps_used[g, jj]),
                             "best_step": int(ff.best_step[g, jj]), "cap": r.cap,
                             "cap_bound": str(ff.status[g, jj]) == tr.CAP,
                             "start_loss": float(ff.start_loss[g, jj]),
                             "best_loss": float(ff.best_loss[g, jj]),
                             "kept": (aa, jj) == (a, j), "starts_converged": len(good),
                             "starts_agreeing": int(agree)})
            history += [{"lambda": r.name, "N": r.N, "seed": r.seed, "model": model,
                         "depth": depth, "step": step, "train_loss": t, "valid_loss": v}
                        for step, gg, m, t, v in f.history if gg == g and m == j]
    params = {}
    for k, g in group_of.items():
        params[k] = torch.stack([attempts[chosen[(g, i)][0]][2].params[k][chosen[(g, i)][1]]
                                 for i in range(len(runs))])
    return Trained(params, list(labels), steps_used, best_step, status.astype(str),
                   pd.DataFrame(rows), pd.DataFrame(history))


# ---- training: LSA stacks (moment path) ------------------------------------------------------

def lsa_trainer(cfg: Mapping[str, Any], depths: Sequence[int], device: torch.device
                ) -> tuple[dict[str, int], Callable[[Sequence[Member]], tr.Fit]]:
    """The stacks of every depth for a batch of starts at once (Adam is elementwise, the loss a
    sum over independent models; each start on its own stream of tasks shared by its depths,
    each run's validation tasks shared by its starts). Returns the group of each parameter
    (K<L>, V<L>: (M, L, p, p)) and the trainer."""
    d, B, sigma = int(cfg["d"]), int(cfg["batch_size"]), float(cfg["noise_sigma"])
    depths = sorted(int(L) for L in depths)
    group_of = {f"{key}{L}": g for g, L in enumerate(depths) for key in "KV"}

    def trainer(members: Sequence[Member]) -> tr.Fit:
        runs = [r for r, _ in members]
        lam = torch.tensor(np.stack([eigenvalues(cfg["lambdas"][r.name], d) for r in runs]),
                           dtype=DTYPE, device=device)[:, None, :]
        N = torch.tensor([r.N for r in runs], dtype=DTYPE, device=device)[:, None, None]
        streams = [_rng(cfg, TRAIN, r.name, r.N, r.seed, r.variant, *_start_key(k))
                   for r, k in members]
        valid_draws = torch.from_numpy(np.stack([
            moment_draws(_rng(cfg, VALID, r.name, r.N, r.seed), r.N,
                         int(cfg["validation_tasks"]), d) for r in runs])).to(device)
        S_valid, w_valid = wishart_moments(valid_draws, lam, N, sigma)
        params: dict[str, torch.Tensor] = {}
        for L in depths:
            starts = [(random_weights if r.init == "random" else initial_weights)(
                _rng(cfg, INIT, r.name, r.N, r.seed, L, *_start_key(k)), L, d,
                float(cfg["lsa_init_scale"])) for r, k in members]
            for key, w in zip("KV", zip(*starts, strict=True), strict=True):
                params[f"{key}{L}"] = torch.tensor(np.stack(w), dtype=DTYPE,
                                                   device=device).requires_grad_(True)

        M = len(members)

        def excess(S: torch.Tensor, w: torch.Tensor, drawn: np.ndarray,
                   live: np.ndarray) -> torch.Tensor:
            """(G, M) excess risks of the live (depth, member) pairs on S, w (drawn members
            only: member drawn[i] at row i), 0 elsewhere."""
            rows = []
            for g, L in enumerate(depths):
                idx = np.flatnonzero(live[g])
                if not len(idx):
                    rows.append(S.new_zeros(M))
                    continue
                at = torch.from_numpy(np.searchsorted(drawn, idx)).to(device)
                sel = torch.from_numpy(idx).to(device)
                gap = w[at] - lsa_coefficients(S[at], params[f"K{L}"][sel], params[f"V{L}"][sel])
                risk = (gap * gap * lam[sel]).sum(-1).mean(-1)
                rows.append(S.new_zeros(M).index_copy(0, sel, risk))  # (M,)
            return torch.stack(rows)

        def train_loss(step: int, live: np.ndarray) -> torch.Tensor:
            drawn = np.flatnonzero(live.any(0))  # a stopped member draws nothing more
            draws = torch.from_numpy(np.stack([moment_draws(streams[m], runs[m].N, B, d)
                                               for m in drawn]))
            sel = torch.from_numpy(drawn).to(device)
            return excess(*wishart_moments(draws.to(device), lam[sel], N[sel], sigma), drawn,
                          live)

        every = np.arange(M)
        return tr.fit(params, group_of, train_loss,
                      lambda live: excess(S_valid, w_valid, every, live),
                      _budget(cfg, runs, [("lsa", L) for L in depths]))

    return group_of, trainer


def train_lsa(cfg: Mapping[str, Any], runs: Sequence[Run], depths: Sequence[int],
              device: torch.device | None = None) -> Trained:
    """The stacks of every run and depth, converged (``converge``): params K<L>, V<L>, each
    (runs, L, p, p) on the CPU."""
    depths = sorted(int(L) for L in depths)
    group_of, trainer = lsa_trainer(cfg, depths, device or torch.device("cpu"))
    return converge(cfg, runs, [("lsa", L) for L in depths], group_of, trainer)


def train(cfg: Mapping[str, Any], device: torch.device | None = None
          ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The main stacks of every Lambda, N, seed (in ``main_runs`` order, Lambdas in config
    order): depth -> (W_KQ, W_PV), each (runs, depth, p, p)."""
    runs = [r for name in cfg["lambdas"] for r in main_runs(cfg, name)]
    trained = train_lsa(cfg, runs, cfg["depths"], device)
    return {int(L): (trained.params[f"K{L}"], trained.params[f"V{L}"]) for L in cfg["depths"]}


# ---- training: the designs and the normalised stacks (token path) ----------------------------

def design_labels(cfg: Mapping[str, Any], part: str | None = None) -> list[tuple[str, int]]:
    """(model, depth) of every token-path model: the designs (depth 1, part ``designs``), then
    the normalised stacks (``lsa_norm``, ``icl.norm_depths``, part ``norm_<L>``); None: all."""
    return ([(str(x), 1) for x in cfg["designs"] if part in (None, "designs")]
            + [(NORM, int(L)) for L in cfg.get("norm_depths", []) if part in (None, f"norm_{L}")])


def train_designs(cfg: Mapping[str, Any], device: torch.device | None = None,
                  part: str | None = None
                  ) -> tuple[dict[tuple[str, int], dict[str, torch.Tensor]], Trained, list[Run]]:
    """The token-path models of ``part`` (``design_labels``) for every seed at (shift.lambda,
    shift.context_size), converged with the stacks' rules. Returns (model, depth) -> its
    parameters (leading axis: seeds), the training record and the runs."""
    device = device or torch.device("cpu")
    labels = design_labels(cfg, part)
    d, B, sigma = int(cfg["d"]), int(cfg["batch_size"]), float(cfg["noise_sigma"])
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    runs = main_runs(cfg, name, [N])
    lam = eigenvalues(cfg["lambdas"][name], d)
    count = max(1, int(cfg["validation_tasks"]) // QUERIES)

    def prefix(model: str, depth: int) -> str:
        return f"{model}{depth}."

    probe = {prefix(m, L) + k: g for g, (m, L) in enumerate(labels)
             for k in design_weights(m, np.random.default_rng(0), d, 1.0, int(cfg["heads"]),
                                     int(cfg["mlp_width"]), L)}

    def trainer(members: Sequence[Member]) -> tr.Fit:
        streams = [_rng(cfg, TRAIN, name, N, r.seed, "tokens", *_start_key(k))
                   for r, k in members]
        valid = [token_tasks(_rng(cfg, VALID, name, N, r.seed, "tokens"), lam, N, QUERIES,
                             sigma, count) for r, _ in members]
        valid_t = [torch.from_numpy(np.stack(part)).to(device) for part in zip(*valid,
                                                                             strict=True)]
        params: dict[str, torch.Tensor] = {}
        for model, L in labels:
            tag = model if model != NORM else f"{model}{L}"
            starts = [design_weights(model, _rng(cfg, INIT, name, N, r.seed, tag,
                                                 *_start_key(k)), d, float(cfg["init_scale"]),
                                     int(cfg["heads"]), int(cfg["mlp_width"]), L)
                      for r, k in members]
            for key in starts[0]:
                params[prefix(model, L) + key] = torch.tensor(
                    np.stack([s[key] for s in starts]), dtype=DTYPE,
                    device=device).requires_grad_(True)

        def of(model: str, L: int) -> dict[str, torch.Tensor]:
            tag = prefix(model, L)
            return {k.removeprefix(tag): v for k, v in params.items() if k.startswith(tag)}

        M = len(members)

        def loss(context: torch.Tensor, queries: torch.Tensor, truth: torch.Tensor,
                 drawn: np.ndarray, live: np.ndarray) -> torch.Tensor:
            """(G, M) mean squared errors of the live (model, member) pairs on tokens of the
            drawn members (member drawn[i] at row i), 0 elsewhere."""
            rows = []
            for g, (m, L) in enumerate(labels):
                idx = np.flatnonzero(live[g])
                if not len(idx):
                    rows.append(context.new_zeros(M))
                    continue
                at = torch.from_numpy(np.searchsorted(drawn, idx)).to(device)
                sel = torch.from_numpy(idx).to(device)
                mine = {k: v[sel] for k, v in of(m, L).items()}
                error = ((PREDICT[m](mine, context[at], queries[at]) - truth[at]) ** 2)
                rows.append(context.new_zeros(M).index_copy(0, sel, error.mean((-1, -2))))
            return torch.stack(rows)

        def train_loss(step: int, live: np.ndarray) -> torch.Tensor:
            drawn = np.flatnonzero(live.any(0))  # a stopped member draws nothing more
            batch = [token_tasks(streams[m], lam, N, QUERIES, sigma, B) for m in drawn]
            return loss(*(torch.from_numpy(np.stack(part)).to(device)
                          for part in zip(*batch, strict=True)), drawn, live)

        every = np.arange(M)
        return tr.fit(params, probe, train_loss, lambda live: loss(*valid_t, every, live),
                      _budget(cfg, [r for r, _ in members], labels))

    trained = converge(cfg, runs, labels, probe, trainer)
    out = {(m, L): {k.removeprefix(prefix(m, L)): v for k, v in trained.params.items()
                    if k.startswith(prefix(m, L))} for m, L in labels}
    return out, trained, runs


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


References = dict[int, tuple[float, np.ndarray]]  # depth L -> PGD's step, GD's steps D (L, d)


def reference_steps(cfg: Mapping[str, Any], name: str, N: int, depths: Sequence[int]
                    ) -> References:
    """Per depth L the tuned step of L-step Gamma*-preconditioned GD (``tune_pgd``) and the
    per-step diagonal preconditioners of L-step GD (``tune_gd_steps``), on tuning tasks of
    (name, N) apart from every replicate's test tasks: once per setting (the references'
    definition, shared by the replicates)."""
    d, sigma = int(cfg["d"]), float(cfg["noise_sigma"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    star = gamma_star(lam, N, sigma)
    tuning = draw_tasks(_rng(cfg, TUNE, name, N), lam, N, sigma, int(cfg["test_tasks"]))
    return {L: (eta, tune_gd_steps(tuning, lam, np.tile(eta * np.diag(star), (L, 1))))
            for L, eta in tune_pgd(tuning, lam, star, depths).items()}


def baseline_rows(cfg: Mapping[str, Any], name: str, N: int, tasks: Tasks, seed: int,
                  references: References) -> list[dict[str, Any]]:
    """icl_risk rows of the untrained models on the test tasks of (name, N) of replicate
    ``seed``: the OLS-Transformer with Gamma* and with Lambda^-1, in-context OLS, ridge, and per
    depth L of ``references`` (``reference_steps``) two references: L steps of Gamma*-
    preconditioned GD with its tuned step (``pgd``) and L steps of GD with a diagonal
    preconditioner of its own per step (``gd_tuned``)."""
    d, sigma = int(cfg["d"]), float(cfg["noise_sigma"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    star = gamma_star(lam, N, sigma)
    base = {**_base(cfg, name, N), "seed": seed}
    rows = []
    for model, gamma in (("gamma_star", star), ("ols_transformer", np.diag(1 / lam))):
        W = whitener(torch.from_numpy(np.linalg.inv(gamma)))  # W W^T = gamma
        rows.append({**base, "model": model, "depth": 1,
                     **_errors(transformer_predict(W, tasks), tasks),
                     "excess_theory": gamma_excess_risk(gamma, lam, N, sigma)})
    for model, coef, theory in (
            ("context_ols", context_ols(tasks.X, tasks.y), ols_excess_risk(d, N, sigma)),
            ("ridge", ridge(tasks.X, tasks.y, sigma**2), math.nan)):
        rows.append({**base, "model": model, "depth": 0,
                     **_errors(_linear(tasks, coef), tasks), "excess_theory": theory})
    X, y = torch.from_numpy(tasks.X), torch.from_numpy(tasks.y)
    for L, (eta, D) in references.items():
        coef = pgd_weights(pgd_polynomial(tasks.X, tasks.y, star, L), eta)
        rows.append({**base, "model": "pgd", "depth": L,
                     **_errors(_linear(tasks, coef), tasks), "step": eta})
        with torch.no_grad():
            coef = gd_steps(X, y, torch.from_numpy(D)).numpy()
        rows.append({**base, "model": "gd_tuned", "depth": L,
                     **_errors(_linear(tasks, coef), tasks), "step": float(D.mean())})
    return rows


def _base(cfg: Mapping[str, Any], name: str, N: int) -> dict[str, Any]:
    return {"lambda": name, "N": N, "d": int(cfg["d"]), "noise_sigma": float(cfg["noise_sigma"]),
            "test_tasks": int(cfg["test_tasks"])}


def evaluation_tasks(cfg: Mapping[str, Any], name: str, N: int, seed: int) -> Tasks:
    """The test tasks of (name, N) of replicate ``seed``, shared by every model and part
    (the models of that seed and the baselines evaluated for it)."""
    lam = eigenvalues(cfg["lambdas"][name], int(cfg["d"]))
    return draw_tasks(_rng(cfg, TEST, name, N, seed), lam, N, float(cfg["noise_sigma"]),
                      int(cfg["test_tasks"]))


def evaluate_lsa(cfg: Mapping[str, Any], runs: Sequence[Run], trained: Trained,
                 baselines: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """icl_preconditioner (per run) and icl_risk (the baselines per (name, N) and seed unless
    not ``baselines``, then per run and depth, with its steps used and status), each run on its
    seed's test tasks."""
    d, sigma = int(cfg["d"]), float(cfg["noise_sigma"])
    depths = [L for _, L in trained.labels]
    pre_rows, risk_rows = [], []
    for name, N in dict.fromkeys((r.name, r.N) for r in runs):
        lam = eigenvalues(cfg["lambdas"][name], d)
        star, inverse = gamma_star(lam, N, sigma), np.diag(1 / lam)
        references = reference_steps(cfg, name, N, depths) if baselines else {}
        for seed in dict.fromkeys(r.seed for r in runs if (r.name, r.N) == (name, N)):
            tasks = evaluation_tasks(cfg, name, N, seed)
            if baselines:
                risk_rows += baseline_rows(cfg, name, N, tasks, seed, references)
            pre, risk = _evaluate_runs(cfg, runs, trained, (name, N, seed), tasks, star, inverse)
            pre_rows += pre
            risk_rows += risk
    return pd.DataFrame(pre_rows), pd.DataFrame(risk_rows)


def _evaluate_runs(cfg: Mapping[str, Any], runs: Sequence[Run], trained: Trained,
                   key: tuple[str, int, int], tasks: Tasks, star: np.ndarray,
                   inverse: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The preconditioner and risk rows of the runs of (name, N, seed) ``key`` on ``tasks``."""
    name, N, _ = key
    depths = [L for _, L in trained.labels]
    S = second_moment(tasks.context())
    h = np.einsum("bnd,bn->bd", tasks.X, tasks.y) / N
    pre_rows, risk_rows = [], []
    for index, r in enumerate(runs):
        if (r.name, r.N, r.seed) != key:
            continue
        for g, L in enumerate(depths):
            K, V = trained.params[f"K{L}"][index], trained.params[f"V{L}"][index]
            pred = lsa_test_predict(S, tasks, K, V)
            risk_rows.append({**_base(cfg, name, N), "model": "lsa", "depth": L,
                              "seed": r.seed, "variant": r.variant, **_errors(pred, tasks),
                              **_record(trained, g, index)})
            if L == 1:
                pre_rows.append({**_base(cfg, name, N), "seed": r.seed,
                                 "variant": r.variant, **preconditioner_row(
                                     K[0], V[0], pred, tasks, h, star, inverse),
                                 **_record(trained, g, index)})
    return pre_rows, risk_rows


def _record(trained: Trained, g: int, index: int) -> dict[str, Any]:
    """How the kept start of run ``index`` in group ``g`` trained."""
    return {"steps_used": int(trained.steps_used[g, index]),
            "best_step": int(trained.best_step[g, index]),
            "status": str(trained.status[g, index]),
            "converged": str(trained.status[g, index]) == tr.CONVERGED}


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


# ---- test-time shift -------------------------------------------------------------------------

# (tasks, their S, the index of the seed in ShiftModel.seeds) -> that seed's predictions (B,)
Predictor = Callable[[Tasks, torch.Tensor, int], np.ndarray]


@dataclass(frozen=True)
class ShiftModel:
    """A model (a batch of seeds, or an untrained baseline evaluated on each seed's tasks)
    under shift; ``gamma`` (seeds, d, d) for eq. 10 with its learned preconditioner, where it
    has one."""

    model: str
    depth: int
    seeds: tuple[int, ...]
    predict: Predictor
    gamma: np.ndarray | None = None
    converged: tuple[bool, ...] = ()  # per seed: its kept start converged (() : untrained)


def shift_rows(cfg: Mapping[str, Any], models: Sequence[ShiftModel]) -> pd.DataFrame:
    """icl_shift rows of ``models`` (trained on shift.lambda at shift.context_size) on shifted
    inputs (shift.py's families) or tasks (task_scale), one row per (family, magnitude, model,
    depth, seed): the relative error and the absolute one (``rmse``, root mean square of the
    prediction minus w^T x_q). Each seed has its own shift direction (mean_shift) and test
    tasks; within a seed, common random numbers across families, magnitudes and parts."""
    d, sigma, count = int(cfg["d"]), float(cfg["noise_sigma"]), int(cfg["test_tasks"])
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    lam = eigenvalues(cfg["lambdas"][name], d)
    rows = []
    for seed in dict.fromkeys(seed for m in models for seed in m.seeds):
        direction = _rng(cfg, SHIFT, name, "direction", seed).standard_normal(d)
        base = sm.BaseStructure(lam, np.eye(d), direction / np.linalg.norm(direction))
        here = [(m, m.seeds.index(seed)) for m in models if seed in m.seeds]
        for family, magnitudes in cfg["shift"]["families"].items():
            for t in (float(v) for v in magnitudes):
                if family == TASK_SCALE:
                    population, scale = base.population, t
                else:
                    population, scale = sm.shifted_population(family, t, base), 1.0
                s_te = population.second_moment
                tasks = draw_tasks(_rng(cfg, SHIFT, name, N, seed), lam, N, sigma, count,
                                   population, scale)
                S = second_moment(tasks.context())
                head = {"family": family, "magnitude": t, "no_shift": t == NO_SHIFT[family],
                        "lambda": name, "N": N,
                        "eq10_predicted": eq10_relative_error(np.diag(1 / lam) @ s_te, s_te)}
                truth = tasks.truth
                for m, i in here:
                    prediction = m.predict(tasks, S, i)
                    learned = (eq10_relative_error(m.gamma[i] @ s_te, s_te)
                               if m.gamma is not None else math.nan)
                    rows.append({**head, "model": m.model, "depth": m.depth, "seed": seed,
                                 "relerr": sm.relative_error(prediction, truth),
                                 "rmse": float(np.sqrt(np.mean((prediction - truth) ** 2))),
                                 "eq10_learned": learned,
                                 "converged": m.converged[i] if m.converged else True})
    return pd.DataFrame(rows)


def baseline_shift_models(cfg: Mapping[str, Any], seeds: Sequence[int]) -> list[ShiftModel]:
    """The OLS-Transformer with Lambda^-1, in-context OLS, ridge with the training prior
    (penalty sigma^2) and the Bayes-optimal predictor under the shifted law (``bayes``: ridge
    with the shifted task prior, sigma^2 / c^2; covariate shift leaves it ridge), each on the
    shifted tasks of every seed of ``seeds``."""
    lam = eigenvalues(cfg["lambdas"][cfg["shift"]["lambda"]], int(cfg["d"]))
    inverse_W = whitener(torch.from_numpy(np.diag(lam)))
    sigma = float(cfg["noise_sigma"])
    seeds = tuple(int(s) for s in seeds)
    return [ShiftModel("ols_transformer", 1, seeds,
                       lambda tasks, S, i: transformer_predict(inverse_W, tasks)),
            ShiftModel("context_ols", 0, seeds,
                       lambda tasks, S, i: _linear(tasks, context_ols(tasks.X, tasks.y))),
            ShiftModel("ridge", 0, seeds,
                       lambda tasks, S, i: _linear(tasks, ridge(tasks.X, tasks.y, sigma**2))),
            ShiftModel("bayes", 0, seeds,
                       lambda tasks, S, i: _linear(tasks, bayes_ridge(
                           tasks.X, tasks.y, sigma, _task_scale(tasks))))]


def _task_scale(tasks: Tasks) -> float:
    """The task prior's scale c of shifted tasks: tasks carry it (``draw_tasks``)."""
    return float(tasks.task_scale)


def lsa_shift_models(runs: Sequence[Run], trained: Trained, indices: Sequence[int]
                     ) -> list[ShiftModel]:
    out = []
    seeds = tuple(runs[i].seed for i in indices)
    for g, (_, L) in enumerate(trained.labels):
        Ks = trained.params[f"K{L}"][list(indices)]
        Vs = trained.params[f"V{L}"][list(indices)]

        def predict(tasks: Tasks, S: torch.Tensor, i: int, Ks: torch.Tensor = Ks,
                    Vs: torch.Tensor = Vs) -> np.ndarray:
            return lsa_test_predict(S, tasks, Ks[i], Vs[i])
        gamma = read_gamma(Ks[:, 0], Vs[:, 0]).numpy() if L == 1 else None
        converged = tuple(bool(trained.status[g, i] == tr.CONVERGED) for i in indices)
        out.append(ShiftModel("lsa", L, seeds, predict, gamma, converged))
    return out


# ---- the parts and the stage -----------------------------------------------------------------

def run_part(cfg: Mapping[str, Any], part: str, device: torch.device | None = None
             ) -> dict[str, pd.DataFrame]:
    """One job's tables (a subset of icl_preconditioner, icl_risk, icl_shift, icl_training,
    icl_sensitivity, icl_convergence), rows that ``gather`` concatenates."""
    validate(cfg)
    device = device or resolve_device(str(cfg["device"]), "icl.device")
    if part not in icl_parts(cfg):
        raise ValueError(f"unknown icl part {part!r}; known: {', '.join(icl_parts(cfg))}")
    if part.startswith("lsa_"):
        return _lsa_part(cfg, icl_lsa_groups(cfg)[int(part.removeprefix("lsa_")) - 1], device)
    if part == "designs" or part.startswith("norm_"):
        return _designs_part(cfg, device, part)
    label, pairs = icl_sensitivity_jobs(cfg)[int(part.removeprefix("sensitivity_")) - 1]
    return _sensitivity_part(cfg, label, pairs, device)


def _lsa_part(cfg: Mapping[str, Any], pairs: Sequence[tuple[str, int]], device: torch.device
              ) -> dict[str, pd.DataFrame]:
    runs = [r for name, N in pairs for r in main_runs(cfg, name, [N])]
    trained = train_lsa(cfg, runs, cfg["depths"], device)
    pre, risk = evaluate_lsa(cfg, runs, trained)
    out = {"icl_preconditioner": pre.drop(columns="variant"),
           "icl_risk": risk.drop(columns="variant", errors="ignore"),
           "icl_training": trained.training,
           "icl_convergence": trained.convergence}
    here = (cfg["shift"]["lambda"], int(cfg["shift"]["context_size"]))
    if here in [(str(n), int(N)) for n, N in pairs]:
        indices = [i for i, r in enumerate(runs) if (r.name, r.N) == here]
        seeds = [runs[i].seed for i in indices]
        out["icl_shift"] = shift_rows(cfg, baseline_shift_models(cfg, seeds)
                                      + lsa_shift_models(runs, trained, indices))
    return out


def _designs_part(cfg: Mapping[str, Any], device: torch.device, part: str
                  ) -> dict[str, pd.DataFrame]:
    models, trained, runs = train_designs(cfg, device, part)
    name, N = cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])
    rows = []
    for m, r in enumerate(runs):
        tasks = evaluation_tasks(cfg, name, N, r.seed)
        for g, ((model, L), params) in enumerate(models.items()):
            prediction = design_test_predict(model, _member(params, m), tasks)[0]
            rows.append({**_base(cfg, name, N), "model": model, "depth": L, "seed": r.seed,
                         **_errors(prediction, tasks), **_record(trained, g, m)})
    seeds = tuple(r.seed for r in runs)
    shifted = [ShiftModel(model, L, seeds,
                          lambda tasks, S, i, model=model, params=params:
                          design_test_predict(model, _member(params, i), tasks)[0], None,
                          tuple(bool(s == tr.CONVERGED) for s in trained.status[g]))
               for g, ((model, L), params) in enumerate(models.items())]
    return {"icl_risk": pd.DataFrame(rows), "icl_shift": shift_rows(cfg, shifted),
            "icl_training": trained.training, "icl_convergence": trained.convergence}


def _member(params: Mapping[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    """Member ``i`` of a batch of trained parameters (leading axis kept, of length 1)."""
    return {k: v[i:i + 1] for k, v in params.items()}


def _sensitivity_part(cfg: Mapping[str, Any], label: str,
                      pairs: Sequence[tuple[str, int]], device: torch.device
                      ) -> dict[str, pd.DataFrame]:
    """One alternative of the sensitivity grid on some (Lambda, N) of the main grid (no
    baselines: the checks take them from the main icl_risk, the test tasks being shared)."""
    runs = sensitivity_runs(cfg, label, pairs)
    trained = train_lsa(cfg, runs, cfg["sensitivity"]["depths"], device)
    pre, risk = evaluate_lsa(cfg, runs, trained, baselines=False)
    control = bool(sensitivity_variants(cfg)[label]["control"])
    table = pd.concat([risk.assign(table="icl_risk"), pre.assign(table="icl_preconditioner")],
                      ignore_index=True).assign(control=control)
    return {"icl_sensitivity": table, "icl_convergence": trained.convergence}


TABLES = ("icl_preconditioner", "icl_risk", "icl_shift", "icl_training", "icl_sensitivity",
          "icl_convergence")


def gather(pieces: Sequence[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The stage's tables from its parts' (concatenated in part order), and icl_growth, the
    error growth under shift (``shift.error_growth``) that the figures draw."""
    found = concat_tables(pieces)
    tables = {name: found[name] for name in TABLES if name in found}
    if "icl_shift" in tables:
        tables["icl_growth"] = sm.error_growth(tables["icl_shift"])
    return tables


def run(cfg: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The whole stage in one call (tests, notebooks): every part, gathered."""
    validate(cfg)
    device = resolve_device(str(cfg["device"]), "icl.device")
    return gather([run_part(cfg, part, device) for part in icl_parts(cfg)])
