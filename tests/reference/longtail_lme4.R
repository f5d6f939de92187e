# lme4's REML fit of the long-tailed crossed designs of benchmarks/crossed_longtail.py.
#
#   python tests/reference/longtail_data.py DIR          # writes DIR/longtail_2k.csv, ...
#   Rscript tests/reference/longtail_lme4.R DIR longtail_2k longtail_8k > longtail_lme4.json
#
# Prints one JSON object: for each design the REML criterion (REMLcrit), theta, sigma,
# the fixed effects and the seconds of lmer itself (the data already read), with lme4's
# default settings.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
out <- list()
for (name in args[-1]) {
  d <- read.csv(file.path(dir, paste0(name, ".csv")), colClasses = c("numeric", "numeric", "character", "character"))
  d$subj <- factor(d$subj)
  d$item <- factor(d$item)
  t0 <- proc.time()[["elapsed"]]
  m <- lmer(y ~ x + (1 | subj) + (1 | item), data = d, REML = TRUE)
  seconds <- proc.time()[["elapsed"]] - t0
  out[[name]] <- list(
    rows = nrow(d), subjects = nlevels(d$subj), items = nlevels(d$item),
    criterion = REMLcrit(m), theta = unname(getME(m, "theta")), sigma = sigma(m),
    fixef = unname(fixef(m)), seconds = seconds,
    lme4 = as.character(packageVersion("lme4"))
  )
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
