# Reference fits of generalized least squares with residual correlation and variance
# structures, by nlme's gls(), REML and ML.
#
# Usage: Rscript tests/reference/gls_reference.R tests/reference
#
# Writes data/Ovary.csv, data/BodyWeight.csv and data/Wheat2.csv (+ .levels.json; Orthodont is
# there already),
# one JSON per model (gls_<id>.json) with both fits, and GLS_README.md. Structure parameters
# are on nlme's natural scale: corAR1 / corCAR1 Phi, corCompSymm Rho, corSymm the correlations
# in nlme's order (row by row of the upper triangle), corARMA Phi1.. and Theta1.., the
# spatial structures range and nugget, varIdent the SD ratios of each stratum to the first
# (reference) one, varPower and varExp their power / rate, varConstPower const and power, varComb
# its functions' parameters after A., B., ... as nlme names them.
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 1)
outdir <- args[1]
datadir <- file.path(outdir, "data")

as_plain <- function(d) {
  lv <- list()
  for (v in names(d)) if (is.factor(d[[v]])) {
    lv[[v]] <- levels(d[[v]])
    d[[v]] <- as.character(d[[v]])
  }
  list(data = as.data.frame(d), levels = lv)
}
for (nm in c("Ovary", "BodyWeight", "Wheat2")) {
  p <- as_plain(get(nm))
  write.csv(p$data, file.path(datadir, paste0(nm, ".csv")), row.names = FALSE)
  write_json(p$levels, file.path(datadir, paste0(nm, ".levels.json")), pretty = TRUE)
}
read_data <- function(nm) {
  d <- read.csv(file.path(datadir, paste0(nm, ".csv")), stringsAsFactors = FALSE)
  lv <- fromJSON(file.path(datadir, paste0(nm, ".levels.json")))
  for (v in names(lv)) d[[v]] <- factor(d[[v]], levels = lv[[v]])
  d
}

models <- list(
  list(id = "ovary_ar1", dataset = "Ovary", formula = "follicles ~ sin(2*pi*Time) + cos(2*pi*Time)",
       correlation = "corAR1(form = ~ 1 | Mare)", variance = NULL),
  list(id = "orthodont_cs", dataset = "Orthodont", formula = "distance ~ age + Sex",
       correlation = "corCompSymm(form = ~ 1 | Subject)", variance = NULL),
  list(id = "orthodont_symm_ident", dataset = "Orthodont", formula = "distance ~ age + Sex",
       correlation = "corSymm(form = ~ 1 | Subject)", variance = "varIdent(form = ~ 1 | Sex)"),
  list(id = "bodyweight_car1_ident", dataset = "BodyWeight", formula = "weight ~ Time * Diet",
       correlation = "corCAR1(form = ~ Time | Rat)", variance = "varIdent(form = ~ 1 | Diet)"),
  list(id = "bodyweight_ar1_power", dataset = "BodyWeight", formula = "weight ~ Time * Diet",
       correlation = "corAR1(form = ~ 1 | Rat)", variance = "varPower(form = ~ Time)"),
  list(id = "ovary_arma11", dataset = "Ovary", formula = "follicles ~ sin(2*pi*Time) + cos(2*pi*Time)",
       correlation = "corARMA(form = ~ 1 | Mare, p = 1, q = 1)", variance = NULL),
  list(id = "wheat2_spher_nugget", dataset = "Wheat2", formula = "yield ~ variety - 1",
       correlation = "corSpher(c(28, 0.2), form = ~ latitude + longitude, nugget = TRUE)",
       variance = NULL),
  list(id = "wheat2_exp", dataset = "Wheat2", formula = "yield ~ variety - 1",
       correlation = "corExp(c(10), form = ~ latitude + longitude)", variance = NULL),
  list(id = "wheat2_gaus_nugget", dataset = "Wheat2", formula = "yield ~ variety - 1",
       correlation = "corGaus(c(10, 0.2), form = ~ latitude + longitude, nugget = TRUE)",
       variance = NULL),
  list(id = "bodyweight_car1_exp", dataset = "BodyWeight", formula = "weight ~ Time * Diet",
       correlation = "corCAR1(form = ~ Time | Rat)", variance = "varExp(form = ~ Time)"),
  list(id = "bodyweight_car1_comb", dataset = "BodyWeight", formula = "weight ~ Time * Diet",
       correlation = "corCAR1(form = ~ Time | Rat)",
       variance = "varComb(varIdent(form = ~ 1 | Diet), varPower(form = ~ Time))"),
  # nlme's default start stops at a lower REML optimum here (-575.985); started from
  # (Phi 0.9979, const 28, power -1.6) it climbs to -575.837. Both fits are kept, and the
  # better one is the reference.
  list(id = "bodyweight_car1_constpower", dataset = "BodyWeight", formula = "weight ~ Time * Diet",
       correlation = "corCAR1(form = ~ Time | Rat)", variance = "varConstPower(form = ~ Time)",
       restart = c("corCAR1(0.9979, form = ~ Time | Rat)",
                   "varConstPower(const = 28, power = -1.6, form = ~ Time)")))

structure_params <- function(m) {
  out <- list()
  if (!is.null(m$modelStruct$corStruct))
    out$correlation <- as.list(coef(m$modelStruct$corStruct, unconstrained = FALSE))
  if (!is.null(m$modelStruct$varStruct))
    out$variance <- as.list(coef(m$modelStruct$varStruct, unconstrained = FALSE))
  out
}
results <- list()
for (md in models) {
  d <- read_data(md$dataset)
  res <- list(id = paste0("gls_", md$id), dataset = md$dataset, formula = md$formula,
              correlation = md$correlation, variance = md$variance, nobs = nrow(d))
  fit_gls <- function(method, correlation, variance) {
    call <- sprintf("gls(%s, data = d, method = '%s'%s%s, control = glsControl(tolerance = 1e-10, msTol = 1e-10, msMaxIter = 500))",
                    md$formula, method, sprintf(", correlation = %s", correlation),
                    if (is.null(variance)) "" else sprintf(", weights = %s", variance))
    eval(parse(text = call))
  }
  for (method in c("REML", "ML")) {
    m <- fit_gls(method, md$correlation, md$variance)
    extra <- list()
    if (!is.null(md$restart)) {
      m2 <- fit_gls(method, md$restart[1], md$restart[2])
      extra <- list(logLik_default_start = as.numeric(logLik(m)),
                    logLik_restart = as.numeric(logLik(m2)))
      if (logLik(m2) > logLik(m)) m <- m2
    }
    res[[method]] <- c(list(logLik = as.numeric(logLik(m)), coef = as.list(coef(m)),
                            se = as.list(sqrt(diag(vcov(m)))), sigma = sigma(m)),
                       structure_params(m), extra)
  }
  res$versions <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")))
  write_json(res, file.path(outdir, paste0(res$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
  results[[md$id]] <- res
  cat(md$id, res$REML$logLik, res$ML$logLik, "\n")
}
rd <- c("# gls references (nlme)", "",
  "    Rscript tests/reference/gls_reference.R tests/reference", "",
  sprintf("regenerates `data/Ovary.*`, `data/BodyWeight.*`, the `gls_*.json` files and this file (%s, nlme %s).",
          sub(" \\(.*", "", R.version.string), as.character(packageVersion("nlme"))),
  "Each model is fitted by REML and by ML with tight tolerances (`glsControl(tolerance = 1e-10)`).",
  "", "| id | formula | correlation | variance | logLik REML | logLik ML |", "|---|---|---|---|---|---|")
for (r in results) rd <- c(rd, sprintf("| %s | `%s` | `%s` | `%s` | %.6f | %.6f |", r$id, r$formula,
                                       r$correlation, if (is.null(r$variance)) "" else r$variance,
                                       r$REML$logLik, r$ML$logLik))
writeLines(rd, file.path(outdir, "GLS_README.md"))
