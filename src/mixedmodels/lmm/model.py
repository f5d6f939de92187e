"""The linear mixed model as a function of its covariance parameters.

:class:`LinearMixedModel` owns what a fit is built from (the cross-product blocks of the
conditioned matrices, the map from theta to Lambda, the conditioning, the response shift)
and answers in the parametrization of the original matrices, lme4's: ``objective(theta)``,
``factorize`` and ``solve``. Inference (Satterthwaite, profiles, variance tests) calls it,
never a result's private fields.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from mixedmodels.core.covariance import ThetaMap
from mixedmodels.core.densesystem import DenseSystem
from mixedmodels.core.solution import Solution, solve
from mixedmodels.core.workspace import Factorization, Workspace
from mixedmodels.design.conditioning import Conditioning
from mixedmodels.design.crossproducts import CrossProducts

__all__ = ["LinearMixedModel"]

BlockColumns = tuple[tuple[tuple[int, int, int], ...], ...]


@dataclass(frozen=True, eq=False)
class LinearMixedModel:
    """A linear mixed model's criterion and solutions at any theta.

    Attributes
    ----------
    products : CrossProducts
        Blocks of ``[Z X y]'W[Z X y]`` of the conditioned matrices.
    tail_shapes : tuple of (m, k)
    theta_map : ThetaMap
        lme4's theta to the templates of every storage block.
    block_columns : tuple
        For every storage block, its terms as (term index, first column, k).
    conditioning : Conditioning
    reml : bool
    shift : float
        What was taken off the response (added back to the intercept).
    intercept : int or None
        Index of the intercept among the fixed effects.
    """

    products: CrossProducts
    tail_shapes: tuple[tuple[int, int], ...]
    theta_map: ThetaMap
    block_columns: BlockColumns
    conditioning: Conditioning
    reml: bool
    shift: float
    intercept: int | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ws", Workspace(self.products, list(self.tail_shapes)))

    def with_response(self, products: CrossProducts, shift: float) -> LinearMixedModel:
        """The same model with the response blocks of ``products`` (the other blocks must
        be this model's) and its response shift; the workspace's design parts are shared."""
        new = copy.copy(self)
        object.__setattr__(new, "products", products)
        object.__setattr__(new, "shift", shift)
        object.__setattr__(new, "_ws", self.workspace.with_products(products))
        dense = self.__dict__.get("_dense")
        if dense is not None:
            object.__setattr__(new, "_dense", dense.with_response(products))
        else:
            new.__dict__.pop("_dense", None)
        return new

    @property
    def workspace(self) -> Workspace:
        """The blocked Cholesky workspace of the conditioned matrices."""
        ws: Workspace = self.__dict__["_ws"]
        return ws

    @property
    def dense_system(self) -> DenseSystem | None:
        """The whole system as one dense matrix when the model is small enough for that to
        be its cheapest exact storage (:mod:`mixedmodels.core.densesystem`), else None. The
        optimizer evaluates the criterion and its gradient on it."""
        if "_dense" not in self.__dict__:
            dense = None
            if DenseSystem.fits(self.products, self.tail_shapes):
                dense = DenseSystem.of(self.products, self.tail_shapes, self.theta_map)
            object.__setattr__(self, "_dense", dense)
        found: DenseSystem | None = self.__dict__["_dense"]
        return found

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.workspace.n)

    @property
    def p(self) -> int:
        """Number of fixed effects."""
        return int(self.workspace.p)

    @property
    def sum_log_weights(self) -> float:
        """``sum(log w)`` of the prior weights (0 without weights)."""
        return float(self.products.sum_log_weights)

    # -- theta in both parametrizations -----------------------------------------------------
    def internal_templates(self, templates: list[np.ndarray]) -> list[np.ndarray]:
        """Lambda of the conditioned matrices for the original ``templates``."""
        return self.conditioning.templates_to_internal(templates, self.block_columns)

    def original_templates(self, templates: list[np.ndarray]) -> list[np.ndarray]:
        """Lambda of the original matrices for conditioned ``templates``."""
        return self.conditioning.templates_to_original(templates, self.block_columns)

    def internal_theta(self, theta: np.ndarray) -> np.ndarray:
        """theta of the conditioned matrices for lme4's theta."""
        return self.theta_map.theta_of(self.internal_templates(self.theta_map.factors(theta)))

    def original_theta(self, theta_c: np.ndarray) -> np.ndarray:
        """lme4's theta for theta of the conditioned matrices."""
        return self.theta_map.theta_of(self.original_templates(self.theta_map.factors(theta_c)))

    # -- evaluations ------------------------------------------------------------------------
    def factorize(self, templates: list[np.ndarray]) -> Factorization:
        """The blocked Cholesky factor for the original ``templates`` (one per block)."""
        return self.workspace.factorize(self.internal_templates(templates))

    def criterion(self, fac: Factorization, reml: bool | None = None) -> float:
        """lme4's profiled deviance (ML) or REML criterion at a factorization."""
        use_reml = self.reml if reml is None else reml
        value = self.workspace.objective(fac, use_reml)
        return value + self.conditioning.reml_shift() if use_reml else value

    def objective(self, theta: np.ndarray, reml: bool | None = None) -> float:
        """The criterion at lme4's ``theta``."""
        return self.criterion(self.factorize(self.theta_map.factors(theta)), reml)

    def logdet_x(self, fac: Factorization) -> float:
        """``log|R_X|^2`` of the original fixed-effects matrix."""
        LBB = fac.LBB
        value = 2.0 * float(np.sum(np.log(np.diag(LBB)[: self.p])))
        return value + self.conditioning.reml_shift()

    def solve(self, fac: Factorization) -> Solution:
        """beta, the conditional modes and ``(R_X'R_X)^{-1}`` in the original matrices'
        parametrization (the intercept with the response shift added back). The
        spherical modes ``u0`` and ``u_tail`` stay those of the conditioned matrices."""
        return self.to_original(solve(self.workspace, fac))

    def to_original(self, sol: Solution) -> Solution:
        """A solution of the conditioned matrices in the original parametrization."""
        cond = self.conditioning
        beta = cond.beta(sol.beta)
        if self.intercept is not None:
            beta[self.intercept] += self.shift
        modes = cond.modes(self.modes_by_block(sol), self.block_columns)
        b_tail = np.concatenate([m.ravel() for m in modes[1:]]) if len(modes) > 1 else sol.b_tail
        return replace(
            sol,
            beta=beta,
            var_beta_unscaled=cond.vcov(sol.var_beta_unscaled),
            b0=modes[0],
            b_tail=b_tail,
        )

    def modes_by_block(self, sol: Solution) -> list[np.ndarray]:
        """The modes of each storage block as ``(m, k)``."""
        out = [sol.b0]
        start = 0
        for m, k in self.tail_shapes:
            out.append(sol.b_tail[start : start + m * k].reshape(m, k))
            start += m * k
        return out
