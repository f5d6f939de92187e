"""Model checks by simulation: simulated quantile residuals and their tests."""

from mixedmodels.checks.residuals import CheckResult, SimulatedResiduals, simulated_residuals

__all__ = ["CheckResult", "SimulatedResiduals", "simulated_residuals"]
