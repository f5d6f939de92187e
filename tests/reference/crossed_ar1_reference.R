# Crossed random effects with AR(1) residuals within subjects, fitted by glmmTMB: the
# residual is moved into an ar1() random effect over the trials of each subject and the
# residual variance is fixed near zero (dispformula = ~0). For a Gaussian model the
# Laplace approximation is exact, so this is the same likelihood as
# mm.lmm(..., correlation=mm.corAR1(form = "~ trial | subject")).
# Run from tests/reference: Rscript crossed_ar1_reference.R
suppressPackageStartupMessages({ library(glmmTMB); library(jsonlite) })
d <- read.csv("data/crossed_ar1.csv")
d$trialf <- factor(d$trial)
out <- list(glmmTMB_version = as.character(packageVersion("glmmTMB")))
for (reml in c(TRUE, FALSE)) {
  m <- glmmTMB(y ~ x + (1 + x | subject) + (1 | item) + ar1(trialf + 0 | subject),
               data = d, dispformula = ~0, REML = reml,
               control = glmmTMBControl(optCtrl = list(eval.max = 1e4, iter.max = 1e4)))
  vc <- VarCorr(m)$cond
  ar <- vc[["subject.1"]]
  key <- if (reml) "REML" else "ML"
  out[[key]] <- list(
    loglik = as.numeric(logLik(m)),
    beta = unname(fixef(m)$cond),
    se = unname(sqrt(diag(vcov(m)$cond))),
    subject_sd = unname(attr(vc$subject, "stddev")),
    subject_cor = attr(vc$subject, "correlation")[1, 2],
    item_sd = unname(attr(vc$item, "stddev")),
    sigma = unname(attr(ar, "stddev")[1]),
    phi = attr(ar, "correlation")[1, 2],
    convergence = m$fit$convergence
  )
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "crossed_ar1.json")
