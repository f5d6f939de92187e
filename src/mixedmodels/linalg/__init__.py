"""Block storage kernels: component-major stacks of small Cholesky blocks."""

from mixedmodels.linalg.smallblocks import (
    cholesky_blocks,
    congruence,
    inverse_lower_blocks,
    multiply_blocks,
    to_component_major,
    to_level_major,
)

__all__ = [
    "cholesky_blocks",
    "congruence",
    "inverse_lower_blocks",
    "multiply_blocks",
    "to_component_major",
    "to_level_major",
]
