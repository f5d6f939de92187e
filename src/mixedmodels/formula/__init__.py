"""lme4's formula language on top of formulaic: bars, `||`, `/`, `:` and lme4 habits."""

from mixedmodels.formula.parse import MixedFormula, RandomTermSpec, parse_formula

__all__ = ["MixedFormula", "RandomTermSpec", "parse_formula"]
