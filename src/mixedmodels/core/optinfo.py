"""What the optimizer over theta is told and what it reports: its settings and the
record of a run, which every fit's result keeps (:mod:`mixedmodels.core.optimize` is the
optimizer itself)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mixedmodels.core.boundary import BoundaryCheck

__all__ = ["OptInfo", "OptimizerSettings"]


@dataclass(frozen=True)
class OptimizerSettings:
    """Every optimizer setting in one record.

    Attributes
    ----------
    final_radius : float
        Trust-region radius at which COBYQA stops (theta is O(1), so this is an
        absolute tolerance on theta).
    max_evaluations : int
        Upper limit on objective evaluations.
    scale_by_curvature : bool
        Rescale the parameters by the objective's curvature at the start (2 n_theta
        evaluations) before handing them to COBYQA, whose trust region is round.
    check_convergence : bool or None
        Whether to check the optimum with a finite-difference gradient and Hessian
        (about 2 n_theta^2 more evaluations). None, the default, checks fits of fewer
        than ``check_max_nobs`` rows, as lme4 does (its ``calc.derivs``).
    check_max_nobs : int
    gradient_tolerance : float
        Largest acceptable Newton step ``|H^{-1} g|`` at the optimum (lme4's 0.002).
    progress : bool
        Report on stderr while a fit runs long (:mod:`mixedmodels.core.progress`).
    """

    final_radius: float = 1e-7
    scale_by_curvature: bool = False
    max_evaluations: int = 10_000
    check_convergence: bool | None = None
    check_max_nobs: int = 10_000
    gradient_tolerance: float = 2e-3
    progress: bool = True


@dataclass(frozen=True)
class OptInfo:
    """How the optimization went.

    Attributes
    ----------
    optimizer : str
    n_evaluations : int
    converged : bool
    message : str
    objective : float
    scaled_gradient : float or None
        ``max |H^{-1} g|`` over interior parameters at the optimum; None if not checked.
        When Newton's last step was taken with the criterion alone (see
        :func:`mixedmodels.core.newton.quasi_newton`), it is read where that step began
        and is the step's length, and :attr:`check` says so: the optimum is closer.
    warnings : tuple of str
    seconds : float
    boundary : BoundaryCheck or None
        At an optimum on the boundary (a rank-deficient covariance): the optimality
        conditions there and how often the fit moved on from a point that failed them;
        None for an interior optimum.
    check : str or None
        How the gradient and Hessian of ``scaled_gradient`` were found (the
        ``source`` of :class:`mixedmodels.core.newton.Derivatives`, or ``"central
        differences of the criterion"``); None if the optimum was not checked.
    hessian : numpy.ndarray or None
        The Hessian of the criterion over the optimizer's theta (that of the conditioned
        design) at an interior optimum found with the analytic gradient, else None. A
        refit starts from it.
    """

    optimizer: str
    n_evaluations: int
    converged: bool
    message: str
    objective: float
    scaled_gradient: float | None
    warnings: tuple[str, ...] = field(default=())
    seconds: float = 0.0
    boundary: BoundaryCheck | None = None
    check: str | None = None
    hessian: np.ndarray | None = field(default=None, compare=False, repr=False)
