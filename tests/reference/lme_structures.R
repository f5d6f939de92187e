# Reference fits of linear mixed models with residual correlation and variance structures,
# by nlme's lme(), REML and ML.
#
# Usage: Rscript tests/reference/lme_structures.R tests/reference
#
# Reads the copies of Orthodont, Ovary and BodyWeight in data/ (written by gls_reference.R)
# and writes one JSON per model (lme_<id>.json) with both fits. Structure parameters are on
# nlme's natural scale, as in gls_reference.R; `sd` are the random-effect standard
# deviations (and `cor` their correlation) from VarCorr.
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 1)
outdir <- args[1]
datadir <- file.path(outdir, "data")
read_data <- function(nm) {
  d <- read.csv(file.path(datadir, paste0(nm, ".csv")), stringsAsFactors = FALSE)
  lv <- fromJSON(file.path(datadir, paste0(nm, ".levels.json")))
  for (v in names(lv)) d[[v]] <- factor(d[[v]], levels = lv[[v]])
  d
}
models <- list(
  list(id = "orthodont_ar1", dataset = "Orthodont", fixed = "distance ~ age + Sex",
       random = "~ 1 | Subject", correlation = "corAR1(form = ~ 1 | Subject)", variance = NULL),
  list(id = "ovary_ar1", dataset = "Ovary", fixed = "follicles ~ sin(2*pi*Time) + cos(2*pi*Time)",
       random = "~ 1 | Mare", correlation = "corAR1(form = ~ 1 | Mare)", variance = NULL),
  list(id = "bodyweight_car1_power", dataset = "BodyWeight", fixed = "weight ~ Time * Diet",
       random = "~ Time | Rat", correlation = "corCAR1(form = ~ Time | Rat)",
       variance = "varPower(form = ~ Time)"),
  list(id = "orthodont_ident", dataset = "Orthodont", fixed = "distance ~ age + Sex",
       random = "~ 1 | Subject", correlation = NULL, variance = "varIdent(form = ~ 1 | Sex)"),
  list(id = "bodyweight_comb", dataset = "BodyWeight", fixed = "weight ~ Time * Diet",
       random = "~ 1 | Rat", correlation = "corCAR1(form = ~ Time | Rat)",
       variance = "varComb(varIdent(form = ~ 1 | Diet), varPower(form = ~ Time))"))
results <- list()
for (md in models) {
  d <- read_data(md$dataset)
  res <- list(id = paste0("lme_", md$id), dataset = md$dataset, fixed = md$fixed,
              random = md$random, correlation = md$correlation, variance = md$variance,
              nobs = nrow(d))
  for (method in c("REML", "ML")) {
    call <- sprintf("lme(%s, random = %s, data = d, method = '%s'%s%s, control = lmeControl(tolerance = 1e-10, msTol = 1e-10, msMaxIter = 500, maxIter = 500, niterEM = 100))",
                    md$fixed, md$random, method,
                    if (is.null(md$correlation)) "" else sprintf(", correlation = %s", md$correlation),
                    if (is.null(md$variance)) "" else sprintf(", weights = %s", md$variance))
    m <- eval(parse(text = call))
    vc <- VarCorr(m)
    sds <- as.numeric(vc[rownames(vc) != "Residual", "StdDev"])
    out <- list(logLik = as.numeric(logLik(m)), coef = as.list(fixef(m)),
                se = as.list(sqrt(diag(vcov(m)))), sigma = m$sigma, sd = sds)
    if ("Corr" %in% colnames(vc)) out$cor <- as.numeric(vc[2, "Corr"])
    if (!is.null(m$modelStruct$corStruct))
      out$correlation <- as.list(coef(m$modelStruct$corStruct, unconstrained = FALSE))
    if (!is.null(m$modelStruct$varStruct))
      out$variance <- as.list(coef(m$modelStruct$varStruct, unconstrained = FALSE))
    res[[method]] <- out
  }
  res$versions <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
  write_json(res, file.path(outdir, paste0(res$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
  results[[md$id]] <- res
  cat(md$id, res$REML$logLik, res$ML$logLik, "\n")
}
rd <- c("# lme references with residual structures (nlme)", "",
  "    Rscript tests/reference/lme_structures.R tests/reference", "",
  sprintf("regenerates the `lme_*.json` files and this file (%s, nlme %s), REML and ML with tight tolerances.",
          sub(" \\(.*", "", R.version.string), as.character(packageVersion("nlme"))),
  "", "| id | fixed | random | correlation | variance | logLik REML | logLik ML |", "|---|---|---|---|---|---|---|")
for (r in results) rd <- c(rd, sprintf("| %s | `%s` | `%s` | `%s` | `%s` | %.6f | %.6f |", r$id, r$fixed, r$random,
                                       if (is.null(r$correlation)) "" else r$correlation,
                                       if (is.null(r$variance)) "" else r$variance, r$REML$logLik, r$ML$logLik))
writeLines(rd, file.path(outdir, "LME_README.md"))
