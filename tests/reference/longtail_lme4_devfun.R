# lme4's REML criterion on the larger long-tailed crossed designs, at a given theta.
#
# A full lmer fit of the 7,800-item design did not finish in 40 minutes here: each
# evaluation factors a dense block of about 6,000 items. This script evaluates lme4's own
# REML deviance function (lmer(..., devFunOnly = TRUE)) at theta, and at theta with each
# coordinate moved by 1e-4 relative either way, so that the reference says both what
# lme4's criterion is there and that theta is a minimum of it.
#
#   python tests/reference/longtail_data.py DIR longtail_8k longtail_17k
#   Rscript tests/reference/longtail_lme4_devfun.R DIR longtail_8k THETA_SUBJ,THETA_ITEM \
#       [longtail_17k THETA_SUBJ,THETA_ITEM ...] > tests/reference/longtail_lme4_devfun.json
#
# theta is in lme4's order (subject, item), as the fits report it.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
pairs <- matrix(args[-1], nrow = 2)
step <- 1e-4
out <- list()
for (k in seq_len(ncol(pairs))) {
  name <- pairs[1, k]
  theta <- as.numeric(strsplit(pairs[2, k], ",")[[1]])
  d <- read.csv(file.path(dir, paste0(name, ".csv")),
                colClasses = c("numeric", "numeric", "character", "character"))
  d$subj <- factor(d$subj)
  d$item <- factor(d$item)
  devfun <- lmer(y ~ x + (1 | subj) + (1 | item), data = d, REML = TRUE, devFunOnly = TRUE)
  t0 <- proc.time()[["elapsed"]]
  centre <- devfun(theta)
  seconds <- proc.time()[["elapsed"]] - t0
  moved <- list()
  for (j in seq_along(theta)) {
    for (sign in c(-1, 1)) {
      at <- theta
      at[j] <- theta[j] * (1 + sign * step)
      moved[[length(moved) + 1]] <- list(theta = at, criterion = devfun(at))
    }
  }
  out[[name]] <- list(
    rows = nrow(d), subjects = nlevels(d$subj), items = nlevels(d$item),
    theta = theta, criterion = centre, relative_step = step, moved = moved,
    seconds_per_evaluation = seconds, lme4 = as.character(packageVersion("lme4"))
  )
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
