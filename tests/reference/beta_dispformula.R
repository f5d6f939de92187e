# Reference fits for the beta family and for dispersion models (glmmTMB's `dispformula`):
# glmmTMB's Laplace fits, each refitted from a second start to confirm its optimum.
#
# Usage: Rscript tests/reference/beta_dispformula.R tests/reference
#
# Writes data/betasim.csv (+ .levels.json), one JSON per model and BETA_DISP_README.md into
# the given folder.
#
# Dispersion conventions. phi is the family's dispersion parameter as mixedmodels names it:
# gaussian, the residual variance; Gamma, 1/shape; beta, the precision (Var = mu (1 - mu) /
# (1 + phi)); nbinom2, the size theta; nbinom1, phi in Var = mu (1 + phi). glmmTMB's sigma()
# (and predict(type = "disp")) is sqrt(phi) for gaussian and Gamma and phi for the others.
# Its dispersion model is linear in log(sigma) for some families and in log(phi) for others,
# so each JSON holds glmmTMB's coefficients as they are (`disp_fixef_glmmTMB`) and the same
# coefficients for log(phi) (`disp_fixef`, `disp_se`), with the factor between them found
# from the fit itself (`disp_link`).
suppressPackageStartupMessages({ library(glmmTMB); library(lme4); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 1)
outdir <- args[1]
datadir <- file.path(outdir, "data")
options(width = 200)

## ------------------------------------------------------------------- data ----------------
set.seed(20261203)
G <- 40
grp <- sprintf("g%02d", seq_len(G))
sizes <- sample(5:25, G, replace = TRUE)
gi <- rep(seq_len(G), sizes)
n <- length(gi)
x <- rnorm(n)
trt <- sample(c("ctl", "trt"), n, replace = TRUE)
b <- rnorm(G, 0, 0.5)
mu <- plogis(-0.3 + 0.6 * x + 0.4 * (trt == "trt") + b[gi])
y <- rbeta(n, mu * 12, (1 - mu) * 12)
phi_d <- exp(2 + 1.0 * (trt == "trt") - 0.4 * x)
yd <- rbeta(n, mu * phi_d, (1 - mu) * phi_d)
stopifnot(all(y > 1e-8 & y < 1 - 1e-8), all(yd > 1e-8 & yd < 1 - 1e-8))
betasim <- data.frame(g = grp[gi], x = x, trt = trt, y = y, yd = yd)
write.csv(betasim, file.path(datadir, "betasim.csv"), row.names = FALSE)
write_json(list(g = grp, trt = c("ctl", "trt")), file.path(datadir, "betasim.levels.json"),
           pretty = TRUE)

read_data <- function(nm) {
  if (nm == "sleepstudy") return(lme4::sleepstudy)
  d <- read.csv(file.path(datadir, paste0(nm, ".csv")), stringsAsFactors = FALSE)
  lv <- fromJSON(file.path(datadir, paste0(nm, ".levels.json")))
  for (v in names(lv)) d[[v]] <- factor(d[[v]], levels = lv[[v]])
  d
}

## ----------------------------------------------------------------- models ----------------
models <- list(
  list(id = "beta_logit", dataset = "betasim", formula = "y ~ x + trt + (1 | g)",
       family = "beta", link = "logit", dispformula = NULL),
  list(id = "beta_disp", dataset = "betasim", formula = "yd ~ x + trt + (1 | g)",
       family = "beta", link = "logit", dispformula = "~ trt + x"),
  list(id = "gamma_disp", dataset = "gammasim", formula = "y ~ x + trt + (1 | g)",
       family = "Gamma", link = "log", dispformula = "~ trt"),
  list(id = "sleepstudy_disp", dataset = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)",
       family = "gaussian", link = "identity", dispformula = "~ Days"),
  list(id = "owls_nbinom1_disp", dataset = "Owls",
       formula = "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)",
       family = "nbinom1", link = "log", dispformula = "~ FoodTreatment"),
  list(id = "salamanders_nb2_disp", dataset = "Salamanders", formula = "count ~ mined + (1 | site)",
       family = "nbinom2", link = "log", dispformula = "~ mined"))

family_of <- function(md) switch(md$family,
  beta = beta_family(link = md$link), Gamma = Gamma(link = md$link),
  gaussian = gaussian(link = md$link), nbinom1 = nbinom1(link = md$link),
  nbinom2 = nbinom2(link = md$link))
# phi from glmmTMB's sigma (sigma = sqrt(phi) for gaussian and Gamma, phi otherwise)
sigma_power <- function(family) if (family %in% c("gaussian", "Gamma")) 2 else 1

results <- list()
for (md in models) {
  cat("\n==================", md$id, "==================\n")
  d <- read_data(md$dataset)
  f <- as.formula(md$formula)
  disp <- if (is.null(md$dispformula)) ~1 else as.formula(md$dispformula)
  m <- glmmTMB(f, data = d, family = family_of(md), dispformula = disp)
  # a second start: every parameter moved by 0.3 from the optimum
  p0 <- m$fit$par
  m2 <- glmmTMB(f, data = d, family = family_of(md), dispformula = disp,
                start = list(beta = unname(p0[names(p0) == "beta"]) + 0.3,
                             betad = unname(p0[names(p0) == "betad"]) - 0.3,
                             theta = unname(p0[names(p0) == "theta"]) + 0.3))
  sigma_rows <- predict(m, type = "disp")
  k <- sigma_power(md$family)
  phi_rows <- sigma_rows^k
  v <- vcov(m, full = TRUE)
  out <- list(id = md$id, dataset = md$dataset, formula = md$formula, family = md$family,
              link = md$link, dispformula = md$dispformula, nobs = nrow(d))
  vc <- VarCorr(m)$cond[[1]]
  re <- as.data.frame(ranef(m, condVar = TRUE))
  re <- re[re$component == "cond" | is.null(re$component), ]
  g <- list(logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
            se = as.list(sqrt(diag(vcov(m)$cond))), sd = attr(vc, "stddev")[[1]],
            ranef = data.frame(level = as.character(re$grp), value = re$condval, condsd = re$condsd),
            phi_rows = unname(head(phi_rows, 5)), pdHess = m$sdr$pdHess,
            max_abs_gradient = max(abs(m$obj$gr(m$fit$par))), convergence = m$fit$convergence,
            refit_logLik_diff = as.numeric(logLik(m2)) - as.numeric(logLik(m)))
  if (is.null(md$dispformula)) {
    g$dispersion <- sigma(m)
  } else {
    bd <- fixef(m)$disp
    Xd <- model.matrix(disp, d)
    eta_d <- as.vector(Xd %*% bd)
    # which multiple of glmmTMB's dispersion predictor is log(phi)?
    cand <- c(1, 2, 0.5, -1, -2, -0.5)
    hit <- cand[vapply(cand, function(a) max(abs(a * eta_d - log(sigma_rows^k))) < 1e-8, TRUE)]
    stopifnot(length(hit) == 1)
    vd <- vcov(m)$disp
    g$disp_link <- sprintf("log(phi) = %g * (X_disp %%*%% disp_fixef_glmmTMB)", hit)
    g$disp_factor <- hit
    g$disp_fixef_glmmTMB <- as.list(bd)
    g$disp_fixef <- as.list(hit * bd)
    g$disp_se <- as.list(setNames(abs(hit) * sqrt(diag(vd)), names(bd)))
  }
  out$glmmTMB <- g
  if (md$dataset == "sleepstudy") out$check_rows <- head(d$Reaction, 3)
  out$versions <- list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
  write_json(out, file.path(outdir, paste0(md$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
  results[[md$id]] <- out
  str(g[c("logLik", "sd", "pdHess", "max_abs_gradient", "refit_logLik_diff")])
  if (!is.null(g$disp_fixef)) str(g[c("disp_link", "disp_fixef")])
}

## ---------------------------------------------------------------- README ----------------
fmt <- function(v, d = 4) paste(formatC(unlist(v), format = "f", digits = d), collapse = ", ")
rd <- c("# Beta and dispersion-model references",
  "",
  "    Rscript tests/reference/beta_dispformula.R tests/reference",
  "",
  sprintf("regenerates `data/betasim.*`, the JSON files below and this file (%s, glmmTMB %s).",
          sub(" \\(.*", "", R.version.string), as.character(packageVersion("glmmTMB"))),
  "`betasim` is simulated (`set.seed(20261203)`): 40 groups of 5 to 25 rows, `x ~ N(0, 1)`, a",
  "treatment `trt`, `logit mu = -0.3 + 0.6 x + 0.4 trt + b`, `b ~ N(0, 0.5^2)`; `y` has precision",
  "12, `yd` a precision with `log phi = 2 + trt - 0.4 x`. The other data sets are the shipped or",
  "referenced copies of gammasim, sleepstudy, Owls and Salamanders.",
  "",
  "Each model is fitted by glmmTMB (Laplace) and again from a start 0.3 away in every",
  "parameter (`refit_logLik_diff`). phi is the family's dispersion parameter in mixedmodels'",
  "terms (gaussian: variance; Gamma: 1/shape; beta: precision; nbinom2: theta; nbinom1: phi",
  "in Var = mu (1 + phi)); `disp_fixef` are the dispersion model's coefficients for log(phi),",
  "`disp_fixef_glmmTMB` glmmTMB's own, and `disp_link` the factor between them, read off the",
  "fit's predicted dispersions.",
  "",
  "| id | family | dispformula | logLik | sd | disp coefficients (log phi) | disp_link | refit diff |",
  "|---|---|---|---|---|---|---|---|")
for (r in results) {
  gg <- r$glmmTMB
  rd <- c(rd, sprintf("| %s | %s | %s | %.6f | %.4f | %s | %s | %.1e |", r$id, r$family,
                      if (is.null(r$dispformula)) "" else r$dispformula, gg$logLik, gg$sd,
                      if (is.null(gg$disp_fixef)) sprintf("(phi = %.4f)", gg$dispersion^sigma_power(r$family)) else fmt(gg$disp_fixef),
                      if (is.null(gg$disp_link)) "" else sub(" \\*.*", "", sub("log\\(phi\\) = ", "", gg$disp_link)),
                      gg$refit_logLik_diff))
}
writeLines(rd, file.path(outdir, "BETA_DISP_README.md"))
