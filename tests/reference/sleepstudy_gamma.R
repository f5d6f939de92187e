# glmmTMB's fits of lme4's sleepstudy as a Gamma GLMM with correlated random intercepts and
# slopes: a vector-valued term under the observed-information Laplace approximation, with
# the log link and with the identity link.  Run from the repository root:
#   Rscript tests/reference/sleepstudy_gamma.R tests/reference
# (The inverse link is not written: glmmTMB's fit of it fails there, NaN log-likelihood and a
# Hessian that is not positive definite, so it gives no reference.)
suppressMessages({library(glmmTMB); library(lme4); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
for (link in c("log", "identity")) {
  m <- glmmTMB(Reaction ~ Days + (Days | Subject), data = sleepstudy,
               family = Gamma(link = link))
  stopifnot(m$sdr$pdHess)
  vc <- VarCorr(m)$cond$Subject
  res <- list(
    id = paste0("sleepstudy_gamma_", link), dataset = "sleepstudy",
    formula = "Reaction ~ Days + (Days | Subject)", family = "Gamma", link = link,
    glmmTMB = list(
      logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
      se = as.list(sqrt(diag(vcov(m)$cond))), dispersion = sigma(m),
      sd = as.numeric(attr(vc, "stddev")), corr = attr(vc, "correlation")[1, 2],
      pdHess = m$sdr$pdHess
    ),
    versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
  )
  write_json(res, file.path(out, paste0(res$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
}
