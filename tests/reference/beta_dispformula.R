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
# Its dispersion model is linear in log(sigma^2) or log(1/sigma^2) depending on the family,
# so each JSON holds glmmTMB's coefficients as they are (`disp_fixef_glmmTMB`) and the same
# coefficients for log(phi) (`disp_fixef`, `disp_se`), with the factor between them
# (`disp_factor`, `disp_link`) found from the fit itself. That factor is confirmed
# independently of glmmTMB's sigma()/predict(): the joint log-density log f(y | b) +
# log N(b; 0, sd^2), written here with R's dnorm/dgamma/dbeta/dnbinom at glmmTMB's modes and
# with phi = exp(factor * eta), has to equal glmmTMB's own joint objective for exactly one of
# the candidate factors (`disp_check`).
suppressPackageStartupMessages({ library(glmmTMB); library(lme4); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 1)
outdir <- args[1]
datadir <- file.path(outdir, "data")
dir.create(datadir, showWarnings = FALSE, recursive = TRUE)
options(width = 200)

## ------------------------------------------------------------------- data ----------------
# 40 group sizes drawn from 5..25 with replacement (sample(5:25) alone would give only 21)
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
# nothing is clamped: every response has to be inside (0, 1), more than 1e-8 from either end
stopifnot(all(y > 1e-8 & y < 1 - 1e-8), all(yd > 1e-8 & yd < 1 - 1e-8))
betasim <- data.frame(g = grp[gi], x = x, trt = trt, y = y, yd = yd)
# write, then read back: every fit uses the data exactly as stored in the CSV files
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
bs <- read_data("betasim")
stopifnot(all(bs$y > 1e-8 & bs$y < 1 - 1e-8), all(bs$yd > 1e-8 & bs$yd < 1 - 1e-8))

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

# log conditional density of y given its mean mu and phi in the conventions above
log_density <- function(family, y, mu, phi) switch(family,
  gaussian = dnorm(y, mu, sqrt(phi), log = TRUE),
  Gamma = dgamma(y, shape = 1 / phi, scale = mu * phi, log = TRUE),
  beta = dbeta(y, mu * phi, (1 - mu) * phi, log = TRUE),
  nbinom2 = dnbinom(y, size = phi, mu = mu, log = TRUE),
  nbinom1 = dnbinom(y, size = mu / phi, mu = mu, log = TRUE))   # Var = mu + mu^2/size = mu (1 + phi)
factors <- c(1, 2, 0.5, -1, -2, -0.5)   # candidates a in log(phi) = a * eta_glmmTMB

capture <- function(expr) {
  w <- character()
  val <- withCallingHandlers(expr, warning = function(c) {
    w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  list(value = val, warnings = w)
}
versions <- list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")),
                 TMB = as.character(packageVersion("TMB")))

results <- list()
for (md in models) {
  cat("\n==================", md$id, "==================\n")
  d <- read_data(md$dataset)
  f <- as.formula(md$formula)
  fam <- family_of(md)
  disp <- if (is.null(md$dispformula)) ~1 else as.formula(md$dispformula)
  fit1 <- capture(glmmTMB(f, data = d, family = fam, dispformula = disp))
  m <- fit1$value
  # a second start: every parameter moved by 0.3 from the optimum, with a large budget
  p0 <- m$fit$par
  fit2 <- capture(glmmTMB(f, data = d, family = fam, dispformula = disp,
                          start = list(beta = unname(p0[names(p0) == "beta"]) + 0.3,
                                       betad = unname(p0[names(p0) == "betad"]) - 0.3,
                                       theta = unname(p0[names(p0) == "theta"]) + 0.3),
                          control = glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4))))
  m2 <- fit2$value
  gradient <- max(abs(m$obj$gr(m$fit$par)))

  ## dispersion: glmmTMB's predictor, its sigma per row, and phi
  bd <- fixef(m)$disp
  Xd <- model.matrix(disp, d)
  eta_d <- as.vector(Xd %*% bd)
  sigma_rows <- predict(m, type = "disp")
  k <- sigma_power(md$family)
  phi_rows <- sigma_rows^k
  # which multiple of glmmTMB's dispersion predictor is log(phi), read off predict()
  hit <- factors[vapply(factors, function(a) max(abs(a * eta_d - log(phi_rows))) < 1e-8, TRUE)]
  stopifnot(length(hit) == 1)

  ## independent check of that factor: the joint log-density at glmmTMB's conditional modes
  re <- as.data.frame(ranef(m, condVar = TRUE))
  re <- re[re$component == "cond", ]
  grpvar <- as.character(re$grpvar[1])
  modes <- setNames(re$condval, as.character(re$grp))
  sd_u <- attr(VarCorr(m)$cond[[grpvar]], "stddev")[[1]]
  mf <- model.frame(lme4::subbars(f), data = d)
  off <- model.offset(mf); if (is.null(off)) off <- 0
  yv <- model.response(mf)
  eta <- as.vector(model.matrix(lme4::nobars(f), data = d) %*% fixef(m)$cond) + off +
    unname(modes[as.character(d[[grpvar]])])
  mu_hat <- fam$linkinv(eta)
  stopifnot(max(abs(mu_hat / predict(m, type = "response") - 1)) < 1e-10)
  pbest <- m$obj$env$last.par.best
  stopifnot(max(abs(pbest[names(pbest) == "b"] - modes)) < 1e-10)
  joint_tmb <- -m$obj$env$f(pbest)
  joint_at <- function(a) sum(log_density(md$family, yv, mu_hat, exp(a * eta_d))) +
    sum(dnorm(modes, 0, sd_u, log = TRUE))
  joint_diff <- vapply(factors, function(a) joint_at(a) - joint_tmb, 0)
  match <- factors[abs(joint_diff) < 1e-8 * max(1, abs(joint_tmb))]
  stopifnot(length(match) == 1, match == hit)
  var_check <- switch(md$family,   # glmmTMB's variance function, where it takes the dispersion
    nbinom1 = max(abs(family(m)$variance(mu_hat, phi_rows) / (mu_hat * (1 + phi_rows)) - 1)),
    nbinom2 = max(abs(family(m)$variance(mu_hat, phi_rows) / (mu_hat + mu_hat^2 / phi_rows) - 1)),
    NULL)
  if (!is.null(var_check)) stopifnot(var_check < 1e-12)

  v <- vcov(m, full = TRUE)
  out <- list(id = md$id, dataset = md$dataset, formula = md$formula, family = md$family,
              link = md$link, dispformula = if (is.null(md$dispformula)) NA else md$dispformula,
              nobs = nrow(d))
  g <- list(logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
            se = as.list(sqrt(diag(vcov(m)$cond))), sd = sd_u,
            ranef = data.frame(level = as.character(re$grp), value = re$condval, condsd = re$condsd),
            phi_rows = unname(head(phi_rows, 5)), pdHess = m$sdr$pdHess,
            max_abs_gradient = gradient, convergence = m$fit$convergence,
            optimizer_message = m$fit$message,
            refit_logLik_diff = as.numeric(logLik(m2)) - as.numeric(logLik(m)),
            refit_max_abs_par_diff = max(abs(m2$fit$par - m$fit$par)),
            refit_convergence = m2$fit$convergence)
  if (is.null(md$dispformula)) g$dispersion <- sigma(m)
  # the dispersion block of the full covariance (vcov(m)$disp is absent for `~ 1`)
  vd <- v[paste0("d~", names(bd)), paste0("d~", names(bd)), drop = FALSE]
  g$disp_link <- sprintf("log(phi) = %g * (X_disp %%*%% disp_fixef_glmmTMB)", hit)
  g$disp_factor <- hit
  g$disp_fixef_glmmTMB <- as.list(bd)
  g$disp_fixef <- as.list(hit * bd)
  g$disp_se <- as.list(setNames(abs(hit) * sqrt(diag(vd)), names(bd)))
  g$disp_se_glmmTMB <- as.list(setNames(sqrt(diag(vd)), names(bd)))
  g$phi_rows_detail <- data.frame(row = 1:5, eta_disp_glmmTMB = eta_d[1:5], phi = phi_rows[1:5],
                                  sigma_glmmTMB = sigma_rows[1:5], mu = mu_hat[1:5])
  g$disp_check <- c(list(joint_logdensity_glmmTMB = joint_tmb, joint_logdensity_recomputed = joint_at(hit),
                         other_factors_logdensity_diff = as.list(setNames(joint_diff[factors != hit],
                                                                          paste0("factor ", factors[factors != hit])))),
                    if (!is.null(var_check)) list(variance_function_max_rel_diff = var_check))
  if (length(fit1$warnings)) g$warnings <- I(fit1$warnings)
  if (length(fit2$warnings)) g$refit_warnings <- I(fit2$warnings)
  out$glmmTMB <- g
  if (md$dataset == "sleepstudy") out$check_rows <- head(d$Reaction, 3)
  out$versions <- versions
  write_json(out, file.path(outdir, paste0(md$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
  results[[md$id]] <- out
  str(g[c("logLik", "fixef", "sd", "pdHess", "max_abs_gradient", "convergence", "refit_logLik_diff",
          "refit_max_abs_par_diff", "disp_link", "disp_fixef_glmmTMB", "disp_fixef", "phi_rows")])
  str(g$disp_check)
  if (length(fit1$warnings)) cat("warnings:", fit1$warnings, sep = "\n  ")
}

## ---------------------------------------------------------------- README ----------------
fmt <- function(v, d = 4) paste(formatC(unlist(v), format = "f", digits = d), collapse = ", ")
g3 <- function(v) formatC(v, format = "g", digits = 2)
link_text <- c(gaussian = "log(phi) = eta: glmmTMB models the log residual variance (sigma = exp(eta / 2))",
               Gamma = "log(phi) = -eta: glmmTMB models the log shape, so the coefficients change sign (sigma = CV = exp(-eta / 2))",
               beta = "log(phi) = eta: the log precision (sigma = phi)",
               nbinom1 = "log(phi) = eta (sigma = phi, Var = mu (1 + phi))",
               nbinom2 = "log(phi) = eta: the log size theta (sigma = theta)")
rd <- c("# Beta and dispersion-model references",
  "",
  "    Rscript tests/reference/beta_dispformula.R tests/reference",
  "",
  sprintf("regenerates `data/betasim.*`, the six JSON files below and this file (%s, glmmTMB %s, TMB %s).",
          sub(" \\(.*", "", versions$R), versions$glmmTMB, versions$TMB),
  "",
  "## Data and models",
  "",
  sprintf("`betasim` (%d rows) is simulated right after `set.seed(20261203)`: 40 groups `g01`..`g40` with", nrow(bs)),
  "sizes drawn from 5..25 (with replacement), `x ~ N(0, 1)`, `trt` in {ctl, trt} at random, `b ~ N(0, 0.5^2)`",
  "per group, `logit mu = -0.3 + 0.6 x + 0.4 [trt] + b`. `y` ~ Beta(mu phi, (1 - mu) phi) with phi = 12;",
  "`yd` the same with `log phi = 2 + 1.0 [trt] - 0.4 x`. Nothing is clamped (the script checks every value",
  sprintf("is inside (1e-8, 1 - 1e-8); smallest distance to 0 or 1: %s). gammasim, Owls and Salamanders are the",
          formatC(min(c(bs$y, 1 - bs$y, bs$yd, 1 - bs$yd)), format = "g", digits = 3)),
  "CSV files in `data/` (factors from their `.levels.json`; Salamanders' `mined` has levels yes, no);",
  "sleepstudy is lme4's copy, and `check_rows` holds its first three `Reaction` values.",
  "",
  "| id | data | model | family | dispformula |",
  "|---|---|---|---|---|")
for (r in results)
  rd <- c(rd, sprintf("| `%s` | %s | `%s` | %s(link = \"%s\") | %s |", r$id, r$dataset,
                      gsub("|", "\\|", r$formula, fixed = TRUE), r$family, r$link,
                      if (is.na(r$dispformula)) "none" else paste0("`", r$dispformula, "`")))
rd <- c(rd, "",
  "Each model is glmmTMB's Laplace fit with default settings, refitted from a start 0.3 away in every",
  "parameter with `iter.max = eval.max = 1e4` (`refit_logLik_diff` = refit minus first fit,",
  "`refit_max_abs_par_diff`).",
  "",
  "## Dispersion conventions",
  "",
  "phi is the family's dispersion parameter in mixedmodels' terms: gaussian, the residual variance;",
  "Gamma, 1/shape (CV = sqrt(phi)); beta, the precision (Var = mu (1 - mu) / (1 + phi)); nbinom2, the",
  "size theta (Var = mu + mu^2 / theta); nbinom1, phi in Var = mu (1 + phi). `phi_rows` is phi for rows",
  "1-5 (`phi_rows_detail` adds glmmTMB's predictor, its sigma and the conditional mean). `disp_fixef`",
  "and `disp_se` are the dispersion model's coefficients for log(phi); `disp_fixef_glmmTMB` are",
  "glmmTMB's own, with eta = X_disp %*% disp_fixef_glmmTMB and log(phi) = `disp_factor` * eta. With",
  "this glmmTMB version:",
  "")
fam_seen <- results[!duplicated(vapply(results, `[[`, "", "family"))]
# the sentences above were written for these factors; stop if a fit found another
expected_factor <- c(gaussian = 1, Gamma = -1, beta = 1, nbinom1 = 1, nbinom2 = 1)
for (r in results) stopifnot(r$glmmTMB$disp_factor == expected_factor[[r$family]])
for (r in fam_seen) rd <- c(rd, sprintf("- %s: %s", r$family, link_text[[r$family]]))
rd <- c(rd, "",
  "The factor is read off `predict(type = \"disp\")` and confirmed independently: the joint log-density",
  "log f(y | b) + log N(b; 0, sd^2), written with R's dnorm/dgamma/dbeta/dnbinom at glmmTMB's modes, equals",
  sprintf("glmmTMB's internal joint objective (to %s at most) for that factor and for no other candidate",
          g3(max(sapply(results, function(r) abs(r$glmmTMB$disp_check$joint_logdensity_recomputed -
                                                    r$glmmTMB$disp_check$joint_logdensity_glmmTMB))))),
  "(`disp_check`); for nbinom1/nbinom2 glmmTMB's variance function at phi agrees as well.",
  "",
  "## Results",
  "",
  "| id | logLik | sd | disp_fixef (log phi) | pdHess | max abs gradient | refit diff |",
  "|---|---|---|---|---|---|---|")
for (r in results) {
  gg <- r$glmmTMB
  dfx <- paste(sprintf("%s %s", names(gg$disp_fixef), formatC(unlist(gg$disp_fixef), format = "f", digits = 4)),
               collapse = "; ")
  if (is.na(r$dispformula)) dfx <- sprintf("%s (phi = %.4f)", dfx, gg$phi_rows[1])
  rd <- c(rd, sprintf("| %s | %.6f | %.4f | %s | %s | %s | %s |", r$id, gg$logLik, gg$sd, dfx,
                      gg$pdHess, g3(gg$max_abs_gradient), g3(gg$refit_logLik_diff)))
}
writeLines(rd, file.path(outdir, "BETA_DISP_README.md"))
cat(rd, sep = "\n")
