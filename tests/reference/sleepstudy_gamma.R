# glmmTMB's fit of lme4's sleepstudy as a Gamma GLMM with a log link and correlated random
# intercepts and slopes: a vector-valued term under the observed-information Laplace
# approximation.  Run from the repository root:
#   Rscript tests/reference/sleepstudy_gamma.R tests/reference
suppressMessages({library(glmmTMB); library(lme4); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
m <- glmmTMB(Reaction ~ Days + (Days | Subject), data = sleepstudy,
             family = Gamma(link = "log"))
vc <- VarCorr(m)$cond$Subject
res <- list(
  id = "sleepstudy_gamma_log", dataset = "sleepstudy",
  formula = "Reaction ~ Days + (Days | Subject)", family = "Gamma", link = "log",
  glmmTMB = list(
    logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
    se = as.list(sqrt(diag(vcov(m)$cond))), dispersion = sigma(m),
    sd = as.numeric(attr(vc, "stddev")), corr = attr(vc, "correlation")[1, 2],
    pdHess = m$sdr$pdHess
  ),
  versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
)
write_json(res, file.path(out, "sleepstudy_gamma_log.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
