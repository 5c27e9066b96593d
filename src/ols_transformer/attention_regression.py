"""The second seed paper's system: Goulet Coulombe, "Ordinary Least Squares as an Attention
Mechanism" (OLS read as a restricted attention module) and its nonlinear estimator, Attention
Regression, with the baselines of its Monte Carlo. Pure math: torch + numpy, no I/O.

- the six designs of its Monte Carlo (``simulate``; the public code's draws, seed for seed);
- the OLS-as-attention identity: F = X U Lambda^-1/2 (X^T X = U Lambda U^T, so F^T F = I), the
  OLS prediction at a query x_q is f_q^T F^T y with f_q = x_q U Lambda^-1/2; the eigen route
  (the paper's) and the SVD route (X = P S V^T, F = P, f_q = x_q V S^-1);
- the optimisation view: min over Omega = L L^T of ||Y - X Omega X^T Y||^2 (LBFGS over L);
- the kernel identity: softmax_j(x^T Omega x_j) is a Nadaraya-Watson weight with the Gaussian
  kernel of metric Omega times exp(x_j^T Omega x_j / 2) per key;
- Attention Regression (M heads batched as a tensor dimension, vectorised attention, the
  paper's warm start, LBFGS with strong Wolfe, its early stop, y standardised), the refit
  rules (the paper's, which looks at the test set, or a validation split), optional masking
  of each training point's attention to itself;
- baselines: OLS (scikit-learn, with intercept), random forest and gradient boosting
  (scikit-learn, the paper's settings), the MLP (torch), Nadaraya-Watson kernel regression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.optim.lbfgs import _strong_wolfe

DESIGNS = ("linear", "friedman1", "friedman2", "friedman3", "rotated_sine", "soft_radial")
P = 5  # covariates of every design
N_TEST = 1000  # test points per draw (the paper's)
ROUTES = ("eigen", "svd")


# ---- the designs -----------------------------------------------------------------------------

def signal(design: str, X: np.ndarray) -> np.ndarray:
    """The noiseless response of ``design`` (the public code's definitions). X (n, 5) -> (n,)."""
    if design == "linear":
        return (X - 0.5) @ np.array([2.0, -1.0, 3.0, 1.5, 0.5])
    if design == "friedman1":
        return (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
                + 10 * X[:, 3] + 5 * X[:, 4])
    if design == "friedman2":
        return np.sin(np.sum(X[:, :3], axis=1) * np.pi) + np.log(1 + X[:, 3] ** 2)
    if design == "friedman3":
        return X[:, 0] * X[:, 1] + np.log(X[:, 2] + X[:, 3] + 2)
    if design == "rotated_sine":
        return np.sin(3 * np.sum(X[:, :4], axis=1))
    if design == "soft_radial":
        return 1.0 / (1.0 + 5.0 * np.sum((X - 0.5) ** 2, axis=1))
    raise ValueError(f"unknown design {design!r}: choose one of {', '.join(DESIGNS)}")


@dataclass(frozen=True)
class Draw:
    """One data set: the first n rows train, the last ``N_TEST`` test."""

    X: np.ndarray  # (n, 5)
    y: np.ndarray  # (n,)
    Xt: np.ndarray  # (N_TEST, 5)
    yt: np.ndarray  # (N_TEST,)
    noise_var: float


def simulate(design: str, n: int, snr: float, seed: int, n_test: int = N_TEST) -> Draw:
    """The paper's draw for ``seed``: X ~ U(0,1)^5 over n + n_test rows, noise variance
    var(signal) / snr with var over the whole draw. Uses numpy's legacy RandomState(seed), as the
    public code does (np.random.seed), so seed 42 + 1000 r gives its replicate r's data."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(0, 1, (n + n_test, P))
    pure = signal(design, X)
    var = float(np.var(pure)) or 1.0
    y = pure + rng.normal(0, math.sqrt(var / snr), n + n_test)
    return Draw(X[:n], y[:n], X[n:], y[n:], var / snr)


def r2(y: np.ndarray, prediction: np.ndarray) -> float:
    """1 - SSE / SST (scikit-learn's r2_score). y, prediction (n,) -> float."""
    y, prediction = np.asarray(y, float), np.asarray(prediction, float)
    return float(1.0 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))


def noise_ceiling(snr: float) -> float:
    """The population R^2 of the true signal: var(signal) / (var(signal) + var(noise))."""
    return snr / (1.0 + snr)


# ---- OLS as attention ------------------------------------------------------------------------

def embedding(X: np.ndarray, route: str = "eigen") -> np.ndarray:
    """The encoder E (p, p) with F = X E orthonormal (F^T F = I): eigen route E = U Lambda^-1/2
    (X^T X = U Lambda U^T, the paper's), svd route E = V S^-1 (X = P S V^T). X (n, p)."""
    if route == "eigen":
        lam, U = np.linalg.eigh(X.T @ X)
        return U / np.sqrt(lam)
    if route == "svd":
        _, s, Vt = np.linalg.svd(X, full_matrices=False)
        return Vt.T / s
    raise ValueError(f"unknown route {route!r}: choose one of {', '.join(ROUTES)}")


def ols_attention(X: np.ndarray, y: np.ndarray, Xq: np.ndarray, route: str = "eigen"
                  ) -> np.ndarray:
    """OLS predictions at queries as attention: f_q^T F^T y, keys F = X E, queries f_q = x_q E,
    values y (linear attention in the orthonormal space). X (n, p), y (n,), Xq (q, p) -> (q,)."""
    E = embedding(X, route)
    return (Xq @ E) @ ((X @ E).T @ y)


# ---- the optimisation view -------------------------------------------------------------------

@dataclass(frozen=True)
class OmegaFit:
    """The embedding metric fitted by ``fit_omega``: Omega (p, p), the final loss and the LBFGS
    iterations used."""

    Omega: np.ndarray  # (p, p)
    loss: float
    iterations: int


def fit_omega(X: np.ndarray, Y: np.ndarray, iterations: int = 500) -> OmegaFit:
    """min over Omega = L L^T (L lower triangular) of mean ||Y - X Omega X^T Y||^2 by LBFGS
    (strong Wolfe), float64, started from L = I / sqrt(n). X (n, p), Y (n, k) targets sharing X.
    With k >= p targets of full rank the minimiser is Omega = (X^T X)^-1; with k < p only
    Omega X^T Y = (X^T X)^-1 X^T Y is identified (predictions like OLS, Omega not)."""
    n, p = X.shape
    Xt = torch.from_numpy(X)
    C = torch.from_numpy(X.T @ Y)  # (p, k)
    Yt = torch.from_numpy(Y)
    rows, cols = torch.tril_indices(p, p)
    # Scale: Omega ~ (X^T X)^-1 ~ I / n, so L starts at I / sqrt(n).
    theta = (torch.eye(p, dtype=torch.float64)[rows, cols] / math.sqrt(n)).requires_grad_(True)
    scale = float((Yt**2).mean())  # loss relative to the targets' size: tolerances mean the same

    def omega() -> torch.Tensor:
        L = torch.zeros(p, p, dtype=torch.float64)
        L = L.index_put((rows, cols), theta)
        return L @ L.T

    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=iterations, history_size=100,
                            tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((Yt - Xt @ (omega() @ C)) ** 2).mean() / scale
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = float(((Yt - Xt @ (omega() @ C)) ** 2).mean())
    state = opt.state[opt._params[0]]
    return OmegaFit(omega().detach().numpy(), loss, int(state.get("n_iter", 0)))


# ---- the kernel identity ---------------------------------------------------------------------

def softmax_weights(Xq: np.ndarray, X: np.ndarray, Omega: np.ndarray) -> np.ndarray:
    """softmax over keys j of x_q^T Omega x_j. Xq (q, p), X (n, p), Omega (p, p) -> (q, n)."""
    s = Xq @ Omega @ X.T
    s = s - s.max(axis=1, keepdims=True)
    w = np.exp(s)
    return w / w.sum(axis=1, keepdims=True)


def kernel_weights(Xq: np.ndarray, X: np.ndarray, Omega: np.ndarray) -> np.ndarray:
    """Nadaraya-Watson weights of the Gaussian kernel with metric Omega,
    K(x, x_j) = exp(-(x - x_j)^T Omega (x - x_j) / 2), each key reweighted by
    exp(x_j^T Omega x_j / 2): equal to ``softmax_weights`` (exp(x^T Omega x / 2) is common to
    every key and cancels). Written in logs, in the kernel's form. -> (q, n)."""
    d = Xq[:, None, :] - X[None, :, :]  # (q, n, p)
    log_k = -0.5 * np.einsum("qnp,pr,qnr->qn", d, Omega, d)
    log_w = log_k + 0.5 * np.einsum("np,pr,nr->n", X, Omega, X)[None, :]
    log_w -= log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=1, keepdims=True)


# ---- Nadaraya-Watson kernel regression -------------------------------------------------------

def nw_predict(X: np.ndarray, y: np.ndarray, Xq: np.ndarray, bandwidth: float,
               exclude_self: bool = False) -> np.ndarray:
    """Nadaraya-Watson with the isotropic Gaussian kernel exp(-|x - x_j|^2 / (2 h^2)).
    ``exclude_self``: Xq is X and each point's own weight is zero (leave-one-out).
    X (n, p), y (n,), Xq (q, p) -> (q,)."""
    d2 = ((Xq[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    log_w = -d2 / (2 * bandwidth**2)
    if exclude_self:
        np.fill_diagonal(log_w, -np.inf)
    log_w -= log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w)
    return (w @ y) / w.sum(axis=1)


def nw_bandwidth(X: np.ndarray, y: np.ndarray, grid: np.ndarray) -> float:
    """The bandwidth of ``grid`` with the smallest leave-one-out squared error."""
    errors = [np.mean((y - nw_predict(X, y, X, h, exclude_self=True)) ** 2) for h in grid]
    return float(grid[int(np.argmin(errors))])


# ---- Attention Regression --------------------------------------------------------------------

@dataclass(frozen=True)
class AttentionSettings:
    """The estimator's settings (the paper's: data README of ols-attention-mc)."""

    heads: int = 5
    penalty: float = 1e-3  # lambda on the squared L entries
    steps: int = 300  # LBFGS steps (each at most ``max_iter`` iterations)
    max_iter: int = 20
    history: int = 100
    min_steps: int = 50  # the early stop applies after this step
    improvement: float = 1e-7  # ... when the loss improves by no more than this
    init_noise: float = 0.05  # N(0, s^2) added to each L entry of the warm start
    mask_self: bool = False  # training: each point's attention to itself masked
    dtype: torch.dtype = torch.float32  # the paper's


@dataclass(frozen=True)
class AttentionFit:
    """A trained model: Omega_m = L_m L_m^T per head, head weights alpha, y's scale."""

    L: torch.Tensor  # (M, p, p) lower triangular
    alpha: torch.Tensor  # (M,)
    X: torch.Tensor  # (n, p) keys
    y: torch.Tensor  # (n,) standardised values
    y_mean: float
    y_std: float
    steps: int
    loss: float
    finite: bool


def attention_heads(Xq: torch.Tensor, X: torch.Tensor, y: torch.Tensor, L: torch.Tensor,
                    mask_self: bool = False) -> torch.Tensor:
    """Every head's prediction at once: softmax_j(x_q^T L_m L_m^T x_j) weights on y.
    Xq (q, p), X (n, p), y (n,), L (M, p, p) -> (M, q). ``mask_self``: Xq is X and the diagonal
    scores are dropped. The public code divides exp(s - max) by its row sum + 1e-8; the sum is
    >= 1 (the max term is exp(0)), so in float32 the 1e-8 is below half an ulp and the two are
    the same number: torch's softmax, one fused pass instead of three."""
    A = torch.einsum("qp,mpr->mqr", Xq, L)  # (M, q, p): x_q^T L_m
    B = torch.einsum("np,mpr->mnr", X, L)  # (M, n, p)
    scores = torch.bmm(A, B.transpose(1, 2))  # (M, q, n)
    if mask_self:
        scores.diagonal(dim1=1, dim2=2).fill_(-math.inf)
    return torch.bmm(torch.softmax(scores, 2), y.expand(L.shape[0], -1)[..., None])[..., 0]


class TrainingLoss:
    """The training loss mean((sum_m alpha_m head_m(X) - y)^2) + penalty sum theta^2 and its
    gradients in theta (M, p(p+1)/2: each L_m's lower triangle, row-major) and alpha (M,), by
    hand, for one training set (X (n, p), y (n,)) and head count. Autograd through softmax keeps
    three n x n buffers per head and passes over them five times; here the scores are written
    once into a buffer kept across calls (no fresh pages per call), turned into the weights W in
    place, and read by two products: with g_qj = W_qj (y_j - h_q) c_q (c = dloss/dh),
    g B = c (W [y B, B] combined) and g^T A = y (W^T c A) - W^T (c h A); queries are the keys
    (A = B = X L_m)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, heads: int, penalty: float,
                 mask_self: bool = False) -> None:
        n, p = X.shape
        self.X, self.y, self.penalty, self.mask_self = X, y, penalty, mask_self
        rows, cols = torch.tril_indices(p, p, device=X.device)
        self.flat = rows * p + cols
        self.W = torch.empty(heads, n, n, dtype=X.dtype, device=X.device)

    def __call__(self, theta: torch.Tensor, alpha: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, grad theta, grad alpha) at theta (M, p(p+1)/2), alpha (M,)."""
        X, y, W = self.X, self.y, self.W
        n, p = X.shape
        M = theta.shape[0]
        L = theta.new_zeros(M, p * p).index_copy_(1, self.flat, theta).view(M, p, p)
        B = torch.einsum("np,mpr->mnr", X, L)  # (M, n, p)
        torch.bmm(B, B.transpose(1, 2), out=W)  # the scores
        if self.mask_self:
            W.diagonal(dim1=1, dim2=2).fill_(-math.inf)
        # The public code divides exp(s - max) by its row sum + 1e-8: the sum is >= 1, so in
        # float32 the 1e-8 is below half an ulp and this is the same number (softmax, in place).
        torch.ops.aten._softmax.out(W, 2, False, out=W)
        yB = B * y[:, None]
        P = torch.bmm(torch.cat((y.expand(M, 1, n), yB.transpose(1, 2), B.transpose(1, 2)), 1),
                      W.transpose(1, 2))  # (M, 1 + 2p, n): (W [y, y B, B])^T
        heads = P[:, 0]  # (M, n)
        residual = alpha @ heads - y  # (n,)
        c = alpha[:, None] * residual * (2.0 / n)  # dloss / dheads
        grad_A = c[:, None] * (P[:, 1:1 + p] - heads[:, None] * P[:, 1 + p:])  # (M, p, n)
        cA = c[:, None] * B.transpose(1, 2)  # (M, p, n)
        T = torch.bmm(torch.cat((cA, heads[:, None] * cA), 1), W)  # (M, 2p, n): (W^T [..])^T
        grad_L = torch.einsum("np,mrn->mpr", X, grad_A + y * T[:, :p] - T[:, p:])
        loss = residual @ residual / n + self.penalty * (theta**2).sum()
        return (loss, grad_L.reshape(M, p * p)[:, self.flat] + 2 * self.penalty * theta,
                heads @ residual * (2.0 / n))


def initial_L(X: torch.Tensor, heads: int, noise: float, seed: int) -> torch.Tensor:
    """The public code's start, drawn as it draws: L = chol(N (X^T X + 1e-6 I)^-1) (raw,
    uncentred X) for every head, plus N(0, noise^2) per lower-triangular entry, from the CPU
    stream of ``torch.manual_seed(seed)`` after the module's own random L (a discarded
    randn(M, p(p+1)/2)), head by head (randn(p(p+1)/2) each: torch draws a short vector
    differently from a long one, so the per-head calls matter). The paper's A100 runs drew this
    noise from CUDA's generator, which no CPU stream reproduces.
    X (n, p) -> (M, p(p+1)/2), row-major lower-triangular entries."""
    n, p = X.shape
    rows, cols = torch.tril_indices(p, p)
    base = torch.linalg.cholesky(torch.linalg.inv(X.T @ X + 1e-6 * torch.eye(
        p, dtype=X.dtype, device=X.device))) * math.sqrt(n)
    generator = torch.Generator().manual_seed(int(seed))
    torch.randn(heads, len(rows), generator=generator)  # the module's random L, overwritten
    flat = base[rows.to(X.device), cols.to(X.device)]
    return torch.stack([flat + (torch.randn(len(rows), generator=generator) * noise).to(
        X.device, X.dtype) for _ in range(heads)])


class _LBFGS(torch.optim.LBFGS):
    """torch's LBFGS (strong Wolfe; same updates, tests and stopping rules) with the inverse-
    Hessian product's two loops over the history done in numpy on a (history, D) matrix: with
    D = 80 parameters and a history of 100, torch spends ~400 dispatches of tiny tensors per
    iteration there, measured at ~40% of a fit's time at N = 500; numpy does them in a tenth.
    The same float32 arithmetic, term by term (rounding-level differences only)."""

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]  # noqa: ANN001, ANN201
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        closure = torch.enable_grad()(closure)
        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        dirs, stps, ro = state.get("dirs"), state.get("stps"), state.get("ro")
        H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = flat_grad.neg()
                dirs, stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad.sub(prev_flat_grad).numpy()
                s = (d * t).numpy()
                real = y.dtype.type  # float32 here: every scalar in the parameters' precision
                ys = real(y @ s)
                if ys > 1e-10:
                    if len(dirs) == history:
                        dirs.pop(0)
                        stps.pop(0)
                        ro.pop(0)
                    dirs.append(y)
                    stps.append(s)
                    ro.append(real(1.0) / ys)
                    H_diag = ys / real(y @ y)
                q = -flat_grad.numpy()
                al = [real(0.0)] * len(dirs)
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = real(stps[i] @ q) * ro[i]
                    q = q - al[i] * dirs[i]
                r = q * real(H_diag)
                for i in range(len(dirs)):
                    be_i = real(dirs[i] @ r) * ro[i]
                    r = r + (al[i] - be_i) * stps[i]
                d = torch.from_numpy(r)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            t = (min(1.0, 1.0 / float(flat_grad.abs().sum())) * lr if state["n_iter"] == 1
                 else lr)
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:
                break
            x_init = self._clone_param()

            def obj_func(x, t, d):  # noqa: ANN001, ANN202
                return self._directional_evaluate(closure, x, t, d)

            loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
            self._add_grad(t, d)
            opt_cond = flat_grad.abs().max() <= tol_grad
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if d.mul(t).abs().max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, dirs=dirs, stps=stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad)
        return orig_loss


def fit_attention(X: np.ndarray, y: np.ndarray, settings: AttentionSettings, seed: int,
                  device: torch.device | None = None) -> AttentionFit:
    """Attention Regression trained as the paper: y standardised, loss = in-sample MSE (each
    training point attending to all, itself included unless ``mask_self``) + penalty * sum L^2,
    LBFGS (lr 1, ``max_iter`` per step, history, strong Wolfe) for up to ``steps`` steps,
    stopping at the first step after ``min_steps`` whose loss does not improve the best by more
    than ``improvement``; a non-finite loss stops it (``finite`` False). X (n, p), y (n,)."""
    device = device or torch.device("cpu")
    dt = settings.dtype
    y_mean, y_std = float(np.mean(y)), float(np.std(y)) + 1e-8
    Xt = torch.tensor(X, dtype=dt, device=device)
    yt = torch.tensor((y - y_mean) / y_std, dtype=dt, device=device)
    M, p = settings.heads, X.shape[1]
    rows, cols = torch.tril_indices(p, p)
    theta = initial_L(Xt, M, settings.init_noise, seed).requires_grad_(True)
    alpha = torch.full((M,), 1.0 / M, dtype=dt, device=device, requires_grad=True)
    opt = _LBFGS([alpha, theta], lr=1.0, max_iter=settings.max_iter,
                 history_size=settings.history, line_search_fn="strong_wolfe")
    training_loss = TrainingLoss(Xt, yt, M, settings.penalty, settings.mask_self)

    def closure() -> torch.Tensor:
        with torch.no_grad():
            loss, theta.grad, alpha.grad = training_loss(theta, alpha)
        if not torch.isfinite(loss):  # as the public code: no gradient from a non-finite loss
            theta.grad, alpha.grad = torch.zeros_like(theta), torch.zeros_like(alpha)
        return loss

    best, finite, step = math.inf, True, 0
    for step in range(settings.steps):
        loss = float(opt.step(closure))
        if not math.isfinite(loss):
            finite = False
            break
        if loss < best - settings.improvement:
            best = loss
        elif step > settings.min_steps:
            break
    L = theta.new_zeros(M, p * p).index_copy(1, (rows * p + cols).to(device), theta.detach())
    return AttentionFit(L.view(M, p, p), alpha.detach(), Xt, yt, y_mean, y_std, step + 1, best,
                        finite and bool(torch.isfinite(theta).all()))


def predict_attention(fit: AttentionFit, Xq: np.ndarray | None = None, mask_self: bool = False
                      ) -> np.ndarray:
    """The trained model's predictions on y's scale: sum_m alpha_m head_m. Xq (q, p), or None for
    the training points (``mask_self``: leave-one-out, each point's own weight dropped) -> (q,)."""
    with torch.no_grad():
        Q = fit.X if Xq is None else torch.tensor(Xq, dtype=fit.X.dtype, device=fit.X.device)
        heads = attention_heads(Q, fit.X, fit.y, fit.L, mask_self and Xq is None)
        return (fit.alpha @ heads).double().cpu().numpy() * fit.y_std + fit.y_mean


# ---- the MLP (torch) -------------------------------------------------------------------------

@dataclass(frozen=True)
class MLPSettings:
    """The paper's MLP: 3 x 200 ReLU, dropout 0.2, Adam 1e-3, batch 64, early stopping
    (patience 20 on a 15% validation split, best weights restored), an average of
    ``ensemble`` networks each with its own seed and split."""

    layers: int = 3
    width: int = 200
    dropout: float = 0.2
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 1000
    patience: int = 20
    validation: float = 0.15
    ensemble: int = 1


def _mlp(p: int, s: MLPSettings) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    width = p
    for _ in range(s.layers):
        layers += [torch.nn.Linear(width, s.width), torch.nn.ReLU(), torch.nn.Dropout(s.dropout)]
        width = s.width
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))


def mlp_predict(X: np.ndarray, y: np.ndarray, queries: list[np.ndarray], settings: MLPSettings,
                seed: int, device: torch.device | None = None) -> tuple[list[np.ndarray], int]:
    """Train the ensemble (X, y standardised on the training set) and predict each array of
    ``queries`` (each (q, p)) on y's scale. Returns the predictions and the epochs run in all.
    Random draws as the public code's ``train_mlp_ensemble`` on CPU: member i's seed
    seed + 100 i sets numpy's legacy stream for its validation split and torch's global stream
    for its initial weights, each epoch's shuffle (the seed a DataLoader's RandomSampler draws
    from it) and the dropout masks."""
    device = device or torch.device("cpu")
    mu, sd = X.mean(0), X.std(0)
    y_mean, y_std = float(np.mean(y)), float(np.std(y)) + 1e-8
    Xs = torch.tensor((X - mu) / sd, dtype=torch.float32, device=device)
    ys = torch.tensor((y - y_mean) / y_std, dtype=torch.float32, device=device)
    Qs = [torch.tensor((q - mu) / sd, dtype=torch.float32, device=device) for q in queries]
    n, n_val = len(X), int(len(X) * settings.validation)
    sums = [np.zeros(len(q)) for q in queries]
    epochs_run = 0
    for member in range(settings.ensemble):
        member_seed = int(seed) + 100 * member
        order = np.random.RandomState(member_seed).permutation(n)
        val, tr = order[:n_val], torch.from_numpy(order[n_val:])
        torch.manual_seed(member_seed)
        net = _mlp(X.shape[1], settings).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
        best, best_state, waited = math.inf, None, 0
        for _ in range(settings.max_epochs):
            epochs_run += 1
            net.train()
            shuffle = torch.Generator().manual_seed(
                int(torch.empty((), dtype=torch.int64).random_().item()))
            perm = tr[torch.randperm(len(tr), generator=shuffle)]
            for start in range(0, len(tr), settings.batch_size):
                idx = perm[start:start + settings.batch_size]
                opt.zero_grad()
                loss = ((net(Xs[idx])[:, 0] - ys[idx]) ** 2).mean()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val_loss = float(((net(Xs[val])[:, 0] - ys[val]) ** 2).mean())
            if val_loss < best - 1e-6:
                best, waited = val_loss, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= settings.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        with torch.no_grad():
            for i, q in enumerate(Qs):
                sums[i] += net(q)[:, 0].double().cpu().numpy()
    return [s / settings.ensemble * y_std + y_mean for s in sums], epochs_run
