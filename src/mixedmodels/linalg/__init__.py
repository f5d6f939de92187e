"""Block storage kernels: batched small Cholesky factors and triangular inverses."""

from mixedmodels.linalg.smallblocks import cholesky_blocks, inverse_lower_blocks

__all__ = ["cholesky_blocks", "inverse_lower_blocks"]
