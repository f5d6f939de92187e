# Reference fits of mixed models for repeated measures by R's mmrm (openpharma/mmrm,
# Apache License 2.0), on its FEV data set, REML and ML, for each covariance structure.
#
# Usage: Rscript tests/reference/mmrm_reference.R tests/reference
#
# Writes data/fev_data.csv (+ .levels.json), mmrm_fev.json and MMRM_README.md. Each model
# gives the log-likelihood, the fixed effects with their SEs and Satterthwaite df, and the
# visits' covariance matrix; the unstructured REML model also gives Kenward-Roger SEs and df
# (mmrm's "Kenward-Roger-Linear", which is SAS's ddfm=kr for an unstructured matrix).
suppressPackageStartupMessages({ library(mmrm); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 1)
outdir <- args[1]
datadir <- file.path(outdir, "data")

d <- fev_data
lv <- list()
for (v in names(d)) if (is.factor(d[[v]])) {
  lv[[v]] <- levels(d[[v]])
  d[[v]] <- as.character(d[[v]])
}
write.csv(d, file.path(datadir, "fev_data.csv"), row.names = FALSE, na = "")
write_json(lv, file.path(datadir, "fev_data.levels.json"), pretty = TRUE)

fixed <- "FEV1 ~ RACE + SEX + ARMCD * AVISIT"
structures <- c("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
one <- function(cov, reml, method = "Satterthwaite") {
  f <- as.formula(sprintf("%s + %s(AVISIT | USUBJID)", fixed, cov))
  vc <- if (method == "Kenward-Roger") "Kenward-Roger-Linear" else NULL
  ctl <- mmrm_control(method = method, vcov = vc)
  fit <- mmrm(f, data = fev_data, reml = reml, control = ctl)
  s <- summary(fit)
  co <- s$coefficients
  list(
    structure = cov, reml = reml, method = method,
    loglik = as.numeric(logLik(fit)),
    names = rownames(co),
    estimate = unname(co[, "Estimate"]),
    std_error = unname(co[, "Std. Error"]),
    df = unname(co[, "df"]),
    covariance = unname(VarCorr(fit)),
    converged = component(fit, "convergence") == 0
  )
}
fits <- list()
for (cov in structures) for (reml in c(TRUE, FALSE)) {
  fits[[length(fits) + 1]] <- one(cov, reml)
}
fits[[length(fits) + 1]] <- one("us", TRUE, "Kenward-Roger")
write_json(list(source = sprintf("R %s, mmrm %s", getRversion(), packageVersion("mmrm")),
                formula = fixed, fits = fits),
           file.path(outdir, "mmrm_fev.json"), digits = NA, pretty = TRUE, auto_unbox = TRUE)

writeLines(c(
  "# MMRM references",
  "",
  "`mmrm_fev.json` is written by `mmrm_reference.R` with R's mmrm",
  sprintf("(%s) on mmrm's FEV data (`fev_data`, 800 rows of 200 subjects x 4 visits, 263", packageVersion("mmrm")),
  "responses missing), shipped as `data/fev_data.csv`. mmrm is Apache-2.0 licensed;",
  "mmrm's authors have compared these fits with SAS PROC MIXED.",
  "",
  "Model: `FEV1 ~ RACE + SEX + ARMCD * AVISIT + <cov>(AVISIT | USUBJID)` for each",
  "covariance structure, REML and ML, Satterthwaite df; the unstructured REML fit with",
  "Kenward-Roger as well."
), file.path(outdir, "MMRM_README.md"))
