"""What linear and generalized linear mixed models share: the covariance map theta ->
Lambda, the blocked Cholesky workspace and its solutions, the optimizer and its checks, the
result base and the tables and summaries read from it. ``lmm/`` and ``glmm/`` hold only
what differs."""
