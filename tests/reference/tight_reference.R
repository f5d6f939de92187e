# Adds a top-level "tight" field to the JSON of every glmer case with nAGQ = 1 in a case list:
# lme4 refitted with glmerControl(tolPwrss = 1e-12) (so that the Laplace log-determinant is
# taken at converged conditional modes, see lme4 issues #998 and #289), plus an independent
# exact-Laplace fit of the same model with glmmTMB.
#
# Usage: Rscript tight_reference.R REFERENCE.R CASES.tsv JSONDIR
#
# Data loading is reference.R's own get_data (its definition is parsed from REFERENCE.R and
# evaluated); formula and family are taken from CASES.tsv exactly as reference.R does.
# The default lme4 fit is also redone and checked against the JSON's criterion and fixef.
# The field is written by appending lines before the closing brace (every existing line stays
# unchanged), formatted with toJSON(auto_unbox = TRUE, digits = NA, pretty = TRUE) and indented
# by two spaces; the file is then re-parsed and checked to equal the old content plus "tight".
# A file that already has a "tight" field gets it replaced (the lines from '  "tight": {' on).
# Besides the requested fields, "glmmTMB" also holds logLik_at_lme4_tight_estimates (glmmTMB's
# objective, i.e. the exact Laplace log-likelihood, at the tight lme4 estimates), and a "caveat"
# string is added when (a) the link is not canonical (lme4 and glmmTMB are then different
# approximations: expected vs observed information in the log-determinant), (b) lme4's logLik
# differs from that exact value by more than 1e-6, or (c) glmmTMB's optimum is more than 1e-7 higher
# than its value at the lme4 estimates (lme4's optimiser stopped short).
suppressPackageStartupMessages({
  library(lme4); library(jsonlite); library(mlmRev); library(nlme); library(glmmTMB)
})
args <- commandArgs(TRUE)
stopifnot(length(args) == 3)
ex <- parse(args[1])
for (e in ex) if (is.call(e) && identical(e[[1]], as.name("<-")) && identical(e[[2]], as.name("get_data"))) eval(e)
stopifnot(exists("get_data"))
cases <- read.delim(args[2], stringsAsFactors = FALSE, comment.char = "#")
jdir <- args[3]

TOL <- 1e-12
NOTE <- paste("lme4 refitted with glmerControl(tolPwrss = 1e-12): with the default tolerance lme4's",
              "Laplace log-determinant is taken before the last PIRLS update (lme4 issues #998, #289);",
              "this refit and glmmTMB agree on the exact Laplace approximation")

# same as reference.R
vc_table <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i],
    var2 = if (is.na(vc$var2[i])) NULL else vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i]))
}
ranef_table <- function(m) {
  re <- as.data.frame(ranef(m, condVar = TRUE))
  list(group = as.character(re$grpvar), term = as.character(re$term), level = as.character(re$grp),
       value = re$condval, condsd = re$condsd)
}

# glmmTMB's parameter vector (beta, theta) for given fixed effects and covariance matrices
# (named by grouping factor): theta is log SDs, then for a 2x2 "us" block the correlation
# parameter t with rho = t / sqrt(1 + t^2). Only scalar and 2x2 blocks occur in these cases.
tmb_par <- function(mg, beta, covs) {
  th <- numeric()
  for (g in names(mg$modelInfo$reTrms$cond$cnms)) {
    S <- as.matrix(covs[[g]]); sd <- sqrt(diag(S))
    if (nrow(S) == 1) th <- c(th, log(sd))
    else if (nrow(S) == 2) { r <- S[1, 2] / prod(sd); th <- c(th, log(sd), r / sqrt(1 - r^2)) }
    else stop("tmb_par: only 1x1 and 2x2 covariance blocks are handled")
  }
  p <- mg$fit$par; stopifnot(identical(unique(names(p)), c("beta", "theta")))
  p[names(p) == "beta"] <- beta; p[names(p) == "theta"] <- th
  p
}
# covariance matrices (by grouping factor) of an lme4 fit
lme4_covs <- function(m) lapply(VarCorr(m), function(S) { attributes(S)[c("stddev", "correlation")] <- NULL; S })

# evaluate expr, collecting warnings and messages instead of printing them
capture <- function(expr) {
  w <- character(); msg <- character()
  val <- withCallingHandlers(expr,
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") },
    message = function(c) { msg <<- c(msg, trimws(conditionMessage(c))); invokeRestart("muffleMessage") })
  list(value = val, warnings = w, messages = msg)
}

options(width = 250)
summary_rows <- list()
for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  if (cs$kind != "glmer" || as.integer(cs$nAGQ) != 1L) next
  d <- get_data(cs$dataset)
  f <- as.formula(cs$formula)
  fam <- eval(parse(text = cs$family))
  jf <- file.path(jdir, paste0(cs$id, ".json"))
  old <- fromJSON(jf)
  old$tight <- NULL

  # default fit: must reproduce the JSON
  m0 <- capture(lme4::glmer(f, data = d, family = fam, nAGQ = 1L))$value
  stopifnot(isTRUE(all.equal(old$criterion, unname(deviance(m0)), tolerance = 1e-12)),
            isTRUE(all.equal(unname(unlist(old$fixef)), unname(fixef(m0)), tolerance = 1e-12)))

  # tight lme4 refit
  ft <- capture(lme4::glmer(f, data = d, family = fam, nAGQ = 1L, control = glmerControl(tolPwrss = TOL)))
  mt <- ft$value
  # glmmTMB: exact Laplace
  fg <- capture(glmmTMB::glmmTMB(f, data = d, family = fam))
  mg <- fg$value

  fe_t <- fixef(mt); se_t <- sqrt(diag(as.matrix(vcov(mt))))
  fe_g <- fixef(mg)$cond; se_g <- sqrt(diag(vcov(mg)$cond))
  stopifnot(identical(names(fe_t), names(old$fixef)), identical(names(fe_g), names(fe_t)))
  # glmmTMB's exact Laplace log-likelihood at the tight lme4 estimates (its objective, inner
  # optimisation over the random effects included); first check the mapping reproduces its own fit
  p_own <- tmb_par(mg, fe_g, lapply(VarCorr(mg)$cond, as.matrix))
  stopifnot(max(abs(p_own - mg$fit$par)) < 1e-8)
  ll_g_at_t <- -mg$obj$fn(tmb_par(mg, fe_t, lme4_covs(mt)))
  ll_g_check <- -mg$obj$fn(mg$fit$par)
  stopifnot(abs(ll_g_check - as.numeric(logLik(mg))) < 1e-8)
  canonical <- identical(family(mt)$link, switch(family(mt)$family, binomial = "logit", poisson = "log", NA))

  tight <- list(tolPwrss = TOL, note = NOTE,
                logLik = as.numeric(logLik(mt)),
                fixef = as.list(fe_t),
                se = as.list(se_t),
                theta = I(unname(getME(mt, "theta"))),
                theta_names = I(names(getME(mt, "theta"))),
                varcorr = vc_table(mt),
                ranef = ranef_table(mt))
  if (nobs(mt) <= 20000) tight$fitted_link <- unname(predict(mt, type = "link"))
  if (length(ft$warnings)) tight$warnings <- I(ft$warnings)
  if (length(ft$messages)) tight$messages <- I(ft$messages)
  tight$glmmTMB <- list(logLik = as.numeric(logLik(mg)), fixef = as.list(fe_g), se = as.list(se_g),
                        logLik_at_lme4_tight_estimates = ll_g_at_t,
                        glmmTMB_version = as.character(packageVersion("glmmTMB")))
  if (length(fg$warnings)) tight$glmmTMB$warnings <- I(fg$warnings)
  caveat <- character()
  if (!canonical)
    caveat <- c(caveat, sprintf(paste(
      "For this non-canonical link lme4's Laplace approximation takes the log-determinant with the",
      "PIRLS (expected, Fisher) weights, glmmTMB's with the observed Hessian of the conditional",
      "log-density, so they are different approximations: glmmTMB's logLik is higher by %.3g and its",
      "fixed effects differ by up to %.3g SE. \"logLik\" etc. above are the converged expected-information",
      "Laplace values; \"glmmTMB\" is the observed-information Laplace."),
      as.numeric(logLik(mg)) - tight$logLik, max(abs(fe_t - fe_g) / se_t)))
  if (canonical && abs(ll_g_at_t - tight$logLik) > 1e-6)
    caveat <- c(caveat, sprintf(paste(
      "At the tight lme4 estimates glmmTMB's exact Laplace log-likelihood is %.13g, %.3g above lme4's",
      "logLik there: with tolPwrss = 1e-12 lme4's log-determinant is still taken from a factor made before",
      "the last PIRLS step in this case (a smaller tolPwrss, e.g. 1e-14, removes the difference)."),
      ll_g_at_t, ll_g_at_t - tight$logLik))
  if (canonical && as.numeric(logLik(mg)) - ll_g_at_t > 1e-7)
    caveat <- c(caveat, sprintf(paste(
      "glmmTMB's maximum of the same Laplace log-likelihood is %.3g higher than its value at the tight lme4",
      "estimates: lme4's optimiser stopped short of the optimum here%s, and glmmTMB's fixed effects",
      "(%.3g SE from lme4's) are the closer ones."),
      as.numeric(logLik(mg)) - ll_g_at_t, if (length(ft$warnings)) " (see \"warnings\")" else "",
      max(abs(fe_t - fe_g) / se_t)))
  if (length(caveat)) tight$caveat <- paste(caveat, collapse = " ")

  # write: append before the closing brace, existing lines unchanged
  lines <- readLines(jf)
  k <- which(lines == '  "tight": {')
  if (length(k)) {                     # replace an earlier "tight" (always the last field)
    lines <- c(lines[seq_len(k - 1)], "}")
    lines[k - 1] <- sub(",$", "", lines[k - 1])
  }
  n <- length(lines)
  stopifnot(lines[n] == "}")
  js <- strsplit(as.character(toJSON(tight, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null")), "\n")[[1]]
  js <- paste0("  ", js); js[1] <- '  "tight": {'
  lines <- c(lines[seq_len(n - 2)], paste0(lines[n - 1], ","), js, "}")
  writeLines(lines, jf)
  new <- fromJSON(jf)
  stopifnot(identical(new[names(old)], old), setequal(names(new), c(names(old), "tight")))

  r <- data.frame(id = cs$id, nobs = nobs(mt),
                  logLik_default = as.numeric(logLik(m0)), logLik_tight = tight$logLik,
                  logLik_glmmTMB = tight$glmmTMB$logLik, logLik_glmmTMB_at_tight = ll_g_at_t,
                  fe_tight_vs_tmb = max(abs(fe_t - fe_g) / se_t),
                  fe_default_vs_tight = max(abs(fixef(m0) - fe_t) / se_t),
                  se_tight_vs_tmb_rel = max(abs(se_t / se_g - 1)),
                  theta_default_vs_tight = max(abs(getME(m0, "theta") - getME(mt, "theta"))))
  summary_rows[[length(summary_rows) + 1]] <- r
  cat(sprintf("%-22s logLik default %.10f  tight %.10f  glmmTMB %.10f  glmmTMB at tight est %.10f\n", cs$id,
              r$logLik_default, r$logLik_tight, r$logLik_glmmTMB, ll_g_at_t))
  cat(sprintf("%-22s max|dfixef|/se tight-vs-glmmTMB %.3e  default-vs-tight %.3e  max|se_t/se_g-1| %.3e\n",
              "", r$fe_tight_vs_tmb, r$fe_default_vs_tight, r$se_tight_vs_tmb_rel))
  for (s in ft$warnings) cat("    lme4 tight WARNING:", s, "\n")
  for (s in ft$messages) cat("    lme4 tight MESSAGE:", s, "\n")
  for (s in fg$warnings) cat("    glmmTMB WARNING:", s, "\n")
  for (s in fg$messages) cat("    glmmTMB MESSAGE:", s, "\n")
}
if (length(summary_rows)) print(do.call(rbind, summary_rows), digits = 12, row.names = FALSE)
