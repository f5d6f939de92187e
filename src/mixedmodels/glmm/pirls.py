"""Penalized iteratively reweighted least squares (PIRLS) and the Laplace / adaptive
Gauss-Hermite approximations of a GLMM's deviance (Bates et al. 2015, section 5 of the
lme4 vignette; Pinheiro & Bates 1995 for adaptive quadrature).

For given theta (and beta, unless beta is estimated inside PIRLS as in lme4's
``nAGQ = 0``), PIRLS finds the conditional modes u by repeatedly solving the weighted
linear mixed-model system with the same blocked Cholesky as an LMM, halving steps that do
not lower the penalized deviance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mixedmodels.core.covariance import CovarianceLayout
from mixedmodels.core.solution import Solution, modes, solve
from mixedmodels.core.workspace import Factorization, Workspace
from mixedmodels.design.crossproducts import ZTerm
from mixedmodels.design.frame import ModelFrame
from mixedmodels.design.reweight import Reweighting
from mixedmodels.errors import MixedModelsError
from mixedmodels.glmm.family import Dispersion, Family
from mixedmodels.glmm.glm_start import glm_start
from mixedmodels.glmm.zeroinflation import ZeroInflated

__all__ = ["GlmmProblem", "PirlsState", "PirlsError"]

#: PIRLS stops when the penalized deviance changes by less than this (relative).
PIRLS_TOLERANCE = 1e-13
#: ... and the modes move by less than this (relative to their size) ...
PIRLS_STEP_TOLERANCE = 1e-9
#: ... or, for a perfect fit (as under separation, where the estimates diverge), it
#: changes by less than this in absolute terms.
PIRLS_ABSOLUTE = 1e-11
PIRLS_MAX_ITERATIONS = 60
PIRLS_MAX_HALVINGS = 12


class PirlsError(MixedModelsError, ArithmeticError):
    """PIRLS did not converge: the conditional modes could not be found."""


@dataclass
class PirlsState:
    """The conditional modes at one (theta, beta) and what the deviance needs."""

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    mu: np.ndarray
    eta: np.ndarray
    workspace: Workspace
    factorization: Factorization
    iterations: int
    kernel: float
    """The sum over rows of the family's log-density kernel at ``mu``."""
    curvature: Factorization
    """The factor with the information the Laplace approximation takes: ``factorization``
    itself, or (see :attr:`GlmmProblem.observed`) one with the observed information at
    the modes, for the log-determinant and the conditional covariances (its fixed-effects
    block is not formed)."""
    curvature_workspace: Workspace

    @cached_property
    def solution(self) -> Solution:
        """beta, the modes and beta's unscaled variances at the state's factor."""
        return solve(self.workspace, self.factorization)


class _Iterate:
    """Per-row values at one iterate: the random part Z Lambda u, eta and mu."""

    def __init__(self, n: int) -> None:
        self.zb = np.empty(n)
        self.eta = np.empty(n)
        self.mu = np.empty(n)


class _Rows:
    """The per-row arrays of PIRLS, allocated once: the current iterate, a trial step,
    the weights' pieces and a scratch buffer (fresh arrays of this size each step cost
    more in page faults than the arithmetic on them)."""

    def __init__(self, n: int) -> None:
        self.now = _Iterate(n)
        self.trial = _Iterate(n)
        self.d = np.empty(n)
        self.w = np.empty(n)
        self.r = np.empty(n)
        self.scratch = np.empty(n)


class GlmmProblem:
    """The data of a GLMM fit and its PIRLS / deviance computations.

    Parameters
    ----------
    frame : ModelFrame
        ``frame.weights`` holds the prior weights (the trials of a binomial response).
    layout : CovarianceLayout
    family : Family
    zero_inflation : numpy.ndarray, optional
        ``(n, c)``, the design of the zero-inflation model (``logit pi = X_zi gamma``),
        in the frame's rows; its coefficients are parameters of the deviance like the
        dispersion (:meth:`set_parameters`).
    dispersion_design : numpy.ndarray, optional
        ``(n, d)``, the design of a dispersion model (``log phi = X_disp delta``, phi the
        family's dispersion parameter) in the frame's rows; without it phi is one number.
    """

    def __init__(
        self,
        frame: ModelFrame,
        layout: CovarianceLayout,
        family: Family,
        zero_inflation: np.ndarray | None = None,
        dispersion_design: np.ndarray | None = None,
    ) -> None:
        self.frame = frame
        self.layout = layout
        self.family = family
        #: the family as given; ``family`` is it at the present dispersion
        self.base_family = family
        # rows sorted by the first grouping factor: its per-level sums become contiguous
        # (np.add.reduceat), which PIRLS does several hundred times
        first = layout.blocks[0].factor.codes
        if layout.blocks[0].n_levels <= np.iinfo(np.int16).max:
            first = first.astype(np.int16)  # numpy's stable sort of 16-bit keys is a radix sort
        self.order = np.argsort(first, kind="stable")
        self.n, self.p = frame.X.shape
        self.y = frame.y[self.order]
        self.X = np.ascontiguousarray(frame.X[self.order])
        prior = frame.weights if frame.weights is not None else np.ones(self.n)
        #: the data's prior weights (binomial: the trials); ``prior`` divides them by the
        #: dispersion
        self.prior_weights = prior[self.order]
        offset = frame.offset if frame.offset is not None else np.zeros(self.n)
        self.offset = offset[self.order]
        self.codes = [b.factor.codes[self.order] for b in layout.blocks]
        self.matrices = [np.ascontiguousarray(b.matrix[self.order]) for b in layout.blocks]
        counts = np.bincount(self.codes[0], minlength=layout.blocks[0].n_levels)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.blocks = layout.blocks
        self.sizes = [b.n_levels * b.k for b in self.blocks]
        self.q = int(sum(self.sizes))
        self.tail_shapes = [(b.n_levels, b.k) for b in self.blocks[1:]]
        self._u_start = np.zeros(self.q)
        # canonical links: IRLS is Newton's method (quadratic convergence, simpler weights)
        self.zi_X = None if zero_inflation is None else zero_inflation[self.order]
        #: the zero-inflation columns' names and, after a fit, its coefficients' covariance
        self.zi_names: tuple[str, ...] = ()
        self.zi_vcov = np.zeros((0, 0))
        self.canonical = family.canonical and self.zi_X is None
        #: whether the Laplace approximation's factor takes the observed information
        self.observed = family.observed_information or self.zi_X is not None
        y = self.y
        # 0/1 outcomes: the binomial kernel needs one logarithm, not two ...
        self._binary = family.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
        # ... which is log(mu) at y = 1 and log(1 - mu) at y = 0: log(a + s mu)
        self._a = 1.0 - y
        self._s = 2.0 * y - 1.0
        # a family with a dispersion starts from the GLM without random effects, which
        # gives the dispersion's start too; the others from beta = 0
        self._beta_start = np.zeros(self.p)
        phi = 1.0
        if family.has_dispersion:
            self._beta_start, phi = glm_start(family, self.X, y, self.prior_weights, self.offset)
        #: the dispersion's value at the start of the fit
        self.initial_dispersion = phi
        #: the dispersion model's design (rows sorted as the problem's) and coefficients:
        #: ``log phi = X_disp delta``, one column of ones when phi is one number
        self.disp_X = None if dispersion_design is None else dispersion_design[self.order]
        self.disp_names: tuple[str, ...] = ()
        self.disp_vcov = np.zeros((0, 0))
        self.disp_delta = np.zeros(0)
        if family.has_dispersion:
            if self.disp_X is None:
                self.disp_delta = np.array([np.log(phi)])
            else:  # the start's phi in every row
                target = np.full(self.n, np.log(phi))
                self.disp_delta = np.linalg.lstsq(self.disp_X, target, rcond=None)[0]
        self.zi_gamma = np.zeros(0)
        if self.zi_X is not None:
            # a start of 0.2 structural zeros where the model has an intercept
            self.zi_gamma = np.zeros(self.zi_X.shape[1])
            ones = np.flatnonzero(np.all(self.zi_X == 1.0, axis=0))
            if ones.size:
                self.zi_gamma[ones[0]] = np.log(0.2 / 0.8)
        self.set_dispersion(self._dispersion_at(self.disp_delta))
        #: per term: whether it is scalar with a column of ones (Z Lambda u is a gather of
        #: its modes then)
        self.intercepts = [
            b.k == 1 and bool(np.all(m == 1.0))
            for b, m in zip(self.blocks, self.matrices, strict=True)
        ]
        self._zterms = [
            ZTerm(codes, matrix, b.n_levels, self.starts if i == 0 else None)
            for i, (codes, matrix, b) in enumerate(
                zip(self.codes, self.matrices, self.blocks, strict=True)
            )
        ]
        # per mode (beta inside PIRLS or not): the blocks' index maps and the workspace
        # whose layout every PIRLS step reuses
        self._reweightings: dict[bool, Reweighting] = {}
        self._workspaces: dict[bool, Workspace] = {}
        self._row_buffers: _Rows | None = None

    def _dispersion_at(self, delta: np.ndarray) -> Dispersion:
        """phi at the dispersion model's coefficients: a number, or one per row."""
        if not self.base_family.has_dispersion:
            return 1.0
        if self.disp_X is None:
            return float(np.exp(delta[0]))
        phi: np.ndarray = np.exp(np.clip(self.disp_X @ delta, -700.0, 700.0))
        return phi

    def dispersion_summary(self) -> str:
        """The dispersion in words: its value, or its range over the rows."""
        if np.ndim(self.dispersion):
            values = np.asarray(self.dispersion)
            return f"{values.min():.4g} to {values.max():.4g} over the rows"
        return f"{float(self.dispersion):.4g}"

    def set_dispersion(self, dispersion: Dispersion) -> None:
        """Make the deviances those at the dispersion parameter's value (a number, or one
        per row under a dispersion model): the family at it
        (:meth:`Family.with_dispersion`), the log-densities' weights there (``w / phi``
        where it scales them) and their constants."""
        self.dispersion = dispersion if np.ndim(dispersion) else float(dispersion)
        self.family = self.base_family.with_dispersion(self.dispersion)
        if self.zi_X is not None:
            pi = 1.0 / (1.0 + np.exp(-(self.zi_X @ self.zi_gamma)))
            self.family = ZeroInflated(self.family.link, self.family, pi)
        w = self.prior_weights
        self.prior = self.family.weights_at(w, self.dispersion)
        #: whether every prior weight is 1
        self.unit_prior = bool(np.all(self.prior == 1.0))
        # constants of the log-likelihood and of the deviance: the log binomial
        # coefficients and the kernel at mu = y (0 log 0 = 0), both 0 for 0/1 outcomes
        # (all trials or none a success)
        if self._binary:
            self.normalizer = np.zeros(self.n)
            self.saturated_kernel = 0.0
        else:
            self.normalizer = self.family.normalizer(self.y, w, self.dispersion)
            saturated = self.prior * self.family.saturated_kernel(self.y)
            self.saturated_kernel = float(np.sum(saturated))
        self.normalizer_total = float(np.sum(self.normalizer))

    def level_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-row ``values`` over the levels of the first grouping factor."""
        out: np.ndarray = self._zterms[0].level_sums(values)
        return out

    def level_sums_columns(self, weights: np.ndarray, M: np.ndarray) -> np.ndarray:
        """``(m, c)``: sums over the first factor's levels of ``weights`` times each column
        of the ``(n, c)`` matrix ``M``."""
        out = np.empty((self.blocks[0].n_levels, M.shape[1]))
        for c in range(M.shape[1]):
            out[:, c] = self.level_sums(weights * M[:, c])
        return out

    # -- Z Lambda u ---------------------------------------------------------------------
    def random_part(
        self, templates: list[np.ndarray], u: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Z Lambda u, one value per row (into ``out`` if given)."""
        out = np.empty(self.n) if out is None else out
        start = 0
        for i, (block, T, size) in enumerate(zip(self.blocks, templates, self.sizes, strict=True)):
            codes, matrix = self.codes[i], self.matrices[i]
            if block.k == 1:
                b = T[0, 0] * u[start : start + size]
                if i == 0:
                    # (mode="clip": the codes are valid, and the default checks cost 3x)
                    np.take(b, codes, out=out, mode="clip")
                    if not self.intercepts[i]:
                        out *= matrix[:, 0]
                elif self.intercepts[i]:
                    out += b[codes]
                else:
                    out += b[codes] * matrix[:, 0]
            else:
                uu = u[start : start + size].reshape(block.n_levels, block.k)
                part = np.einsum("ik,ik->i", matrix, (uu @ T.T)[codes])
                if i == 0:
                    out[...] = part
                else:
                    out += part
            start += size
        return out

    # -- the weighted LMM step ------------------------------------------------------------
    def _working(
        self,
        rows: _Rows,
        eta: np.ndarray,
        mu: np.ndarray,
        zb: np.ndarray,
        estimate_beta: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The IRLS weights and working response at (eta, mu), in ``rows``' buffers.

        The response is the working response less the offset, or, with beta fixed, less
        the whole fixed part as well (``zb = eta - fixed`` is the random part).
        """
        d = self.family.mu_eta(eta, mu, out=rows.d)
        scale = self.family.canonical_scale
        if self.canonical and scale == 1.0:  # d mu / d eta is V(mu): w = prior * d
            w = d if self.unit_prior else np.multiply(self.prior, d, out=rows.w)
        elif self.canonical:  # d mu / d eta = scale V(mu): w = prior d^2 / V = prior d scale
            w = np.multiply(self.prior * scale, d, out=rows.w)
        else:
            w = self.prior * d * d / np.maximum(self.family.variance(mu), 1e-300)
        r = np.subtract(self.y, mu, out=rows.r)
        r /= d
        if self.observed:
            # Newton's method where the observed information is positive in every row
            # (always for a negative binomial or a Gamma on the log link): Fisher scoring
            # converges only linearly off the canonical link (74 iterations on a sparse
            # negative binomial design against 6)
            # (the response is the family's score over the weights, which for the
            # exponential dispersion families is (y - mu) / mu' at Fisher's weights)
            w = self.family.newton_weights(self.y, eta, mu, self.prior, w)
            np.divide(self.family.score(self.y, eta, mu, self.prior), w, out=r)
        if estimate_beta:
            r += eta
            r -= self.offset
        else:
            r += zb
        return w, r

    def _factor(
        self, templates: list[np.ndarray], w: np.ndarray, r: np.ndarray, estimate_beta: bool
    ) -> tuple[Workspace, Factorization]:
        """The factor of the weighted system for B = [X r] (beta estimated) or B = r."""
        reweighting = self._reweightings.get(estimate_beta)
        if reweighting is None:
            X = self.X if estimate_beta else self.X[:, :0]
            reweighting = self._reweightings[estimate_beta] = Reweighting(self._zterms, X)
        products = reweighting.products(w, r, log_weights=False)
        base = self._workspaces.get(estimate_beta)
        if base is None:
            ws = self._workspaces[estimate_beta] = Workspace(products, self.tail_shapes)
        else:
            ws = base.reweighted(products)
        return ws, ws.factorize(templates)

    def _observed_factor(
        self, templates: list[np.ndarray], w: np.ndarray, estimate_beta: bool
    ) -> tuple[Workspace, Factorization]:
        """The factor of ``Lambda' Z' diag(w) Z Lambda + I`` for weights of any sign."""
        reweighting = self._reweightings[estimate_beta]
        products = reweighting.products(w, np.zeros(self.n), log_weights=False)
        ws = self._workspaces[estimate_beta].reweighted(products)
        return ws, ws.random_factorize(templates)

    @property
    def n_parameters(self) -> int:
        """Parameters of the deviance beyond theta and beta: the dispersion model's
        coefficients (``log phi`` alone without one), then the zero-inflation
        coefficients."""
        return self.disp_delta.size + self.zi_gamma.size

    def parameters(self) -> np.ndarray:
        """Their present values."""
        return np.concatenate([self.disp_delta, self.zi_gamma])

    def set_parameters(self, values: np.ndarray) -> None:
        """Set them (as :meth:`parameters` orders them)."""
        values = np.asarray(values, dtype=np.float64)
        d = self.disp_delta.size
        self.disp_delta = values[:d].copy()
        if self.zi_X is not None:
            self.zi_gamma = values[d:].copy()
        self.set_dispersion(self._dispersion_at(self.disp_delta))

    def kernel_sum(self, mu: np.ndarray, scratch: np.ndarray | None = None) -> float:
        """Sum over rows of the family's log-density kernel at mu (``scratch``: a buffer of
        n values it may overwrite)."""
        if self._binary:
            p = np.multiply(self._s, mu, out=scratch)
            p += self._a
            np.log(p, out=p)
            return float(np.sum(p)) if self.unit_prior else float(self.prior @ p)
        return float(np.sum(self.family.kernel(self.y, mu, self.prior)))

    def penalized_deviance(self, kernel: float, u: np.ndarray) -> float:
        """Sum of the deviance residuals plus ||u||^2, from the kernel sum at mu."""
        return 2.0 * (self.saturated_kernel - kernel) + float(u @ u)

    def pirls(
        self,
        theta: np.ndarray,
        beta: np.ndarray | None,
        u_start: np.ndarray | None = None,
        exact: bool = True,
        beta_start: np.ndarray | None = None,
    ) -> PirlsState:
        """Conditional modes at theta; beta fixed, or estimated with u when None.

        PIRLS starts from ``u_start`` (and, with beta estimated, ``beta_start``), by
        default from where the last call ended. With ``exact=False`` the factor of the
        last iteration (at weights one step before the modes, which moved by < 1e-9) is
        kept instead of being made again at the modes: good for the optimizer, not for
        finite differences.

        Raises
        ------
        PirlsError
            When the penalized deviance cannot be lowered or does not settle.
        """
        templates = self.layout.factors(theta)
        estimate_beta = beta is None
        if beta is None:
            b = (self._beta_start if beta_start is None else beta_start).copy()
        else:
            b = beta
        u = (self._u_start if u_start is None else u_start).copy()
        rows = self._rows()
        now, trial = rows.now, rows.trial
        fixed = self.offset + self.X @ b
        self.random_part(templates, u, out=now.zb)
        np.add(fixed, now.zb, out=now.eta)
        self.family.linkinv(now.eta, out=now.mu)
        kernel = self.kernel_sum(now.mu, rows.scratch)
        pdev = self.penalized_deviance(kernel, u)
        history: list[float] = [pdev]
        final: tuple[Workspace, Factorization] | None = None
        for iteration in range(1, PIRLS_MAX_ITERATIONS + 1):
            w, r = self._working(rows, now.eta, now.mu, now.zb, estimate_beta)
            ws, fac = self._factor(templates, w, r, estimate_beta)
            b_new, u0, u_tail = modes(ws, fac)
            u_new = np.concatenate([u0.ravel(), u_tail])
            if not estimate_beta:
                b_new = b
            step = 1.0
            for _ in range(PIRLS_MAX_HALVINGS + 1):
                u_try = u + step * (u_new - u)
                b_try = b + step * (b_new - b)
                fixed_try = self.offset + self.X @ b_try if estimate_beta else fixed
                self.random_part(templates, u_try, out=trial.zb)
                np.add(fixed_try, trial.zb, out=trial.eta)
                self.family.linkinv(trial.eta, out=trial.mu)
                kernel_try = self.kernel_sum(trial.mu, rows.scratch)
                pdev_try = self.penalized_deviance(kernel_try, u_try)
                if np.isfinite(pdev_try) and pdev_try <= pdev * (1 + 1e-12) + 1e-12:
                    break
                step /= 2.0
            else:
                raise PirlsError(
                    f"PIRLS could not lower the penalized deviance at theta={theta.round(6)} "
                    f"after {PIRLS_MAX_HALVINGS} step halvings (iteration {iteration}); the "
                    "model may be too complex for the data or the data may be separated"
                )
            change = pdev - pdev_try
            moved = float(np.max(np.abs(u_try - u), initial=0.0))
            if estimate_beta:
                moved = max(moved, float(np.max(np.abs(b_try - b), initial=0.0)))
            u, b, fixed, pdev, kernel = u_try, b_try, fixed_try, pdev_try, kernel_try
            now, trial = trial, now
            history.append(pdev)
            # Fisher scoring converges only linearly for non-canonical links, so the modes
            # themselves must have settled, not just the deviance (which is flat there)
            settled = moved < PIRLS_STEP_TOLERANCE * (1.0 + float(np.max(np.abs(u), initial=0.0)))
            perfect = pdev < 1e-6 and abs(change) < PIRLS_ABSOLUTE
            # the penalized deviance is a difference of kernel sums (2 (saturated - kernel)),
            # so its rounding is relative to the kernel's size, not its own: on a Gamma
            # model with phi = 0.01 the kernel is -1.3e5 and the deviance 180, and from
            # settled modes it alternated by 2.9e-11, above 1e-13 of 180
            scale = abs(pdev) + 2.0 * abs(kernel) + 1.0
            if perfect or (abs(change) < PIRLS_TOLERANCE * scale and settled):
                # a full step that moved the modes by < 1e-9: the factor just made (at the
                # weights one step back) is the factor at the modes to that precision
                reuse = step == 1.0 and settled and not exact and not self.observed
                final = (ws, fac) if reuse else None
                break
        else:
            raise PirlsError(
                f"PIRLS did not converge in {PIRLS_MAX_ITERATIONS} iterations at "
                f"theta={theta.round(6)} (last penalized deviances: "
                f"{', '.join(f'{h:.6g}' for h in history[-3:])})"
            )
        if final is None:  # the factor at the modes themselves, for the log-determinant
            w, r = self._working(rows, now.eta, now.mu, now.zb, estimate_beta)
            final = self._factor(templates, w, r, estimate_beta)
        ws, fac = final
        curvature, curvature_ws = fac, ws
        if self.observed:
            # the Laplace approximation's curvature is the observed information; the
            # factor of the solution keeps IRLS's expected one
            w_observed = self.family.observed_weights(self.y, now.eta, now.mu, self.prior)
            curvature_ws, curvature = self._observed_factor(templates, w_observed, estimate_beta)
        self._u_start = u
        if estimate_beta:
            self._beta_start = b
        mu, eta = now.mu.copy(), now.eta.copy()
        return PirlsState(theta, b, u, mu, eta, ws, fac, iteration, kernel, curvature, curvature_ws)

    def _rows(self) -> _Rows:
        """The per-row buffers PIRLS works in, made once per problem."""
        if self._row_buffers is None:
            self._row_buffers = _Rows(self.n)
        return self._row_buffers

    # -- deviances -------------------------------------------------------------------
    def log_likelihood_rows(self, mu: np.ndarray) -> np.ndarray:
        """Log-density of each response at mu, with constants."""
        return np.asarray(self.family.kernel(self.y, mu, self.prior) + self.normalizer)

    def laplace(self, state: PirlsState) -> float:
        """-2 log L by the Laplace approximation at a PIRLS state."""
        loglik = state.kernel + self.normalizer_total
        return -2.0 * loglik + float(state.u @ state.u) + state.curvature.logdet_z

    def agq(self, state: PirlsState, nodes: np.ndarray, weights: np.ndarray) -> float:
        """-2 log L by adaptive Gauss-Hermite quadrature (one scalar random-effect term).

        Each group's integral over its u is taken around the mode with the scale
        1 / L_jj, on the nodes and weights of the standard normal density.
        """
        block = self.blocks[0]
        codes = self.codes[0]
        x = self.matrices[0][:, 0]
        scale = 1.0 / state.curvature.L0[0, 0]  # (m,)
        u_hat = state.u
        t = self.layout.factors(state.theta)[0][0, 0]
        fixed = self.offset + self.X @ state.beta
        m = block.n_levels
        terms = np.empty((nodes.size, m))
        for k, z in enumerate(nodes):
            u = u_hat + z * scale
            eta = fixed + x * t * u[codes]
            mu = self.family.linkinv(eta)
            per_group = np.bincount(codes, self.log_likelihood_rows(mu), minlength=m)
            terms[k] = per_group - 0.5 * u * u + 0.5 * z * z
        top = terms.max(axis=0)
        log_sum = top + np.log(weights @ np.exp(terms - top))
        return float(-2.0 * np.sum(np.log(scale) + log_sum))


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for integrals against the standard normal density."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / np.sqrt(2.0 * np.pi)
