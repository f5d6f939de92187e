# lme4's optimum for every data set of a manifest, as default lmer finds it and as tighter
# refits find it (for benchmarks/optimum.py and the fixture tests/reference/optimum_best.json).
#
# Usage: Rscript optimum_lme4.R MANIFEST.tsv OUT.json
#
# MANIFEST.tsv has a header and the columns id, csv, formula, reml (TRUE/FALSE). Each CSV is
# read with read.csv; its character columns become factors.
#
# Per id, OUT.json holds
#   default : lmer(formula, data, REML = reml) with lme4's default control, timed
#   bobyqa  : a refit with bobyqa, rhoend = 1e-10, maxfun = 1e5, started at the default fit's
#             theta (no derivative check)
#   restart : a refit with Nelder_Mead (tolerances 1e-12, maxfun 1e5) started at the better
#             of the two, then bobyqa again from where Nelder_Mead stopped
#   best    : the fit with the lowest criterion of the three (its name in best$fit)
#   lower   : lme4's lower bounds of theta (0 for a diagonal entry of Lambda, -Inf otherwise)
# and for each fit: criterion (REMLcrit for REML fits, deviance for ML fits), theta, singular
# (isSingular, tolerance 1e-4), seconds (default fit only), warnings, and error when lmer
# failed. One R process does the whole manifest.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(TRUE)
stopifnot(length(args) == 2)
manifest <- read.delim(args[1], stringsAsFactors = FALSE, quote = "")
stopifnot(all(c("id", "csv", "formula", "reml") %in% names(manifest)))

criterion_of <- function(m, reml) if (reml) REMLcrit(m) else deviance(m)

# run one lmer call, keeping its warnings and messages and timing it
attempt <- function(expr_fun) {
  notes <- character(0)
  t0 <- proc.time()[["elapsed"]]
  m <- withCallingHandlers(
    tryCatch(expr_fun(), error = function(e) e),
    warning = function(w) {
      notes <<- c(notes, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(msg) {
      notes <<- c(notes, trimws(conditionMessage(msg)))
      invokeRestart("muffleMessage")
    }
  )
  list(model = m, notes = notes, seconds = proc.time()[["elapsed"]] - t0)
}

describe <- function(res, reml) {
  m <- res$model
  if (inherits(m, "error")) {
    return(list(error = conditionMessage(m), warnings = I(res$notes)))
  }
  list(
    criterion = criterion_of(m, reml),
    theta = I(unname(getME(m, "theta"))),
    singular = isSingular(m, tol = 1e-4),
    seconds = res$seconds,
    warnings = I(res$notes)
  )
}

tight_bobyqa <- lmerControl(
  optimizer = "bobyqa", calc.derivs = FALSE,
  optCtrl = list(rhoend = 1e-10, maxfun = 1e5)
)
tight_nm <- lmerControl(
  optimizer = "Nelder_Mead", calc.derivs = FALSE,
  optCtrl = list(FtolAbs = 1e-12, FtolRel = 1e-12, XtolRel = 1e-12, maxfun = 1e5)
)

# start values must lie inside the bounds: a diagonal entry of exactly 0 is fine for bobyqa
# but Nelder_Mead wants a little room
nudge <- function(theta, lower) ifelse(lower == 0 & theta < 1e-8, 1e-8, theta)

out <- list()
for (r in seq_len(nrow(manifest))) {
  row <- manifest[r, ]
  reml <- as.logical(row$reml)
  data <- read.csv(row$csv, stringsAsFactors = TRUE)
  form <- as.formula(row$formula)
  fits <- list()
  default <- attempt(function() lmer(form, data, REML = reml))
  fits$default <- describe(default, reml)
  if (!inherits(default$model, "error")) {
    m0 <- default$model
    lower <- getME(m0, "lower")
    bob <- attempt(function() {
      lmer(form, data, REML = reml, control = tight_bobyqa, start = list(theta = getME(m0, "theta")))
    })
    fits$bobyqa <- describe(bob, reml)
    # Nelder_Mead from the better of the two, then bobyqa from where it stopped
    from <- m0
    if (!inherits(bob$model, "error") && criterion_of(bob$model, reml) < criterion_of(m0, reml)) {
      from <- bob$model
    }
    start <- nudge(getME(from, "theta"), lower)
    restart <- attempt(function() {
      nm <- lmer(form, data, REML = reml, control = tight_nm, start = list(theta = start))
      lmer(form, data, REML = reml, control = tight_bobyqa, start = list(theta = getME(nm, "theta")))
    })
    fits$restart <- describe(restart, reml)
    fits$lower <- I(unname(lower))
  }
  crits <- vapply(
    c("default", "bobyqa", "restart"),
    function(k) if (is.null(fits[[k]]$criterion)) Inf else fits[[k]]$criterion,
    numeric(1)
  )
  if (is.finite(min(crits))) {
    best <- names(crits)[which.min(crits)]
    fits$best <- c(list(fit = best), fits[[best]][c("criterion", "theta", "singular")])
  }
  out[[row$id]] <- fits
}
versions <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  Matrix = as.character(packageVersion("Matrix"))
)
writeLines(
  toJSON(list(versions = versions, fits = out), auto_unbox = TRUE, digits = NA, null = "null"),
  args[2]
)
