# glmmTMB's fits of lme4's sleepstudy as a Gamma GLMM with correlated random intercepts and
# slopes: a vector-valued term under the observed-information Laplace approximation, with
# the log link and with the identity link; and with random intercepts alone on the log link
# (the user guide's model, whose dispersion of 0.0094 makes the log-density's sum 700 times
# the deviance).  Run from the repository root:
#   Rscript tests/reference/sleepstudy_gamma.R tests/reference
# (The inverse link is not written: glmmTMB's fit of it fails there, NaN log-likelihood and a
# Hessian that is not positive definite, so it gives no reference.)
suppressMessages({library(glmmTMB); library(lme4); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
cases <- list(
  list(id = "sleepstudy_gamma_log", formula = Reaction ~ Days + (Days | Subject), link = "log"),
  list(id = "sleepstudy_gamma_identity", formula = Reaction ~ Days + (Days | Subject),
       link = "identity"),
  list(id = "sleepstudy_gamma_intercept_log", formula = Reaction ~ Days + (1 | Subject),
       link = "log")
)
for (case in cases) {
  link <- case$link
  m <- glmmTMB(case$formula, data = sleepstudy, family = Gamma(link = link))
  stopifnot(m$sdr$pdHess)
  vc <- VarCorr(m)$cond$Subject
  res <- list(
    id = case$id, dataset = "sleepstudy",
    formula = deparse(case$formula), family = "Gamma", link = link,
    glmmTMB = list(
      logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
      se = as.list(sqrt(diag(vcov(m)$cond))), dispersion = sigma(m),
      sd = as.numeric(attr(vc, "stddev")),
      corr = if (nrow(vc) > 1) attr(vc, "correlation")[1, 2] else NA,
      pdHess = m$sdr$pdHess
    ),
    versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
  )
  write_json(res, file.path(out, paste0(res$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
}
