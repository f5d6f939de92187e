"""Linear mixed models on Dask DataFrames: data that does not fit in one process's memory.

A linear mixed model needs only the cross-product blocks of ``[Z X y]``, whose size
depends on the numbers of levels and columns, never on the number of rows. A fit to a
Dask DataFrame therefore makes two passes over the partitions:

1. the levels pass (:mod:`~mixedmodels.daskfit.levels`): the rows kept after dropping
   missing values, the levels of every grouping factor and categorical column, and the
   response's sum (its mean is taken off before the blocks are built, as in memory);
2. the blocks pass (:mod:`~mixedmodels.daskfit.blocks`): each partition's blocks, summed
   by a tree reduction, so only the blocks travel to the client.

The fit then runs as for in-memory data. ``fitted``, ``residuals`` and ``predict`` are
lazy Dask series (:mod:`~mixedmodels.daskfit.rows`). Dask is imported only inside
functions, when a Dask object is passed: the core install does not need it.
"""

from mixedmodels.daskfit.limits import DEFAULT_MAX_BLOCK_BYTES

__all__ = ["DEFAULT_MAX_BLOCK_BYTES"]
