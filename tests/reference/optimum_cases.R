# lme4's optimum for the cases of the optimizer's own tests (tests/test_optimum_cases.py):
# nAGQ = 0 fits, a complementary log-log model with an offset and prior weights, and an
# uncentred covariate x = 1..10,000 with a factor of few levels.
#
# Usage: Rscript optimum_cases.R DATADIR OUT.json
#   DATADIR: tests/reference/data (Contraception.csv, grouseticks.csv with levels files)
#
# Every glmer fit is refitted with glmerControl(tolPwrss = 1e-12) (the Laplace deviance
# at converged modes, lme4 issues #998 / #289) and bobyqa with rhoend = 1e-10, and the
# lower of the default and tight deviances is kept; the lmer fit likewise.
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
args <- commandArgs(TRUE)
stopifnot(length(args) == 2)
datadir <- args[1]

read_data <- function(name) {
  d <- read.csv(file.path(datadir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  lv <- fromJSON(file.path(datadir, paste0(name, ".levels.json")))
  for (v in names(lv)) d[[v]] <- factor(d[[v]], levels = lv[[v]])
  d
}
contraception <- read_data("Contraception")
grouse <- read_data("grouseticks")
cbpp <- lme4::cbpp

# x = 1..10,000 with a factor of 5 levels: y has a level effect and a slope in x
set.seed(20261201)
fewlevels <- data.frame(x = 1:10000, g = factor(rep(c("a", "b", "c", "d", "e"), each = 2000)))
fewlevels$y <- 3 + 2e-4 * fewlevels$x + c(-0.5, 0.2, 0.1, 0.4, -0.2)[as.integer(fewlevels$g)] +
  rnorm(10000)
write.csv(fewlevels, file.path(dirname(args[2]), "fewlevels.csv"), row.names = FALSE)

tight_g <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
tight_l <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))

describe <- function(fits) {
  crit <- sapply(fits, function(m) if (isLMM(m)) REMLcrit(m) else -2 * as.numeric(logLik(m)))
  best <- fits[[which.min(crit)]]
  list(criterion = min(crit), criterion_default = crit[[1]], theta = unname(getME(best, "theta")),
       fixef = as.list(fixef(best)), singular = isSingular(best))
}
cases <- list(
  contraception_nagq0 = function(ctl) glmer(use ~ age + I(age^2) + urban + livch + (1 | district),
    contraception, binomial, nAGQ = 0, control = ctl),
  contraception_slopes_nagq0 = function(ctl) glmer(use ~ age + I(age^2) + urban + livch + (urban | district),
    contraception, binomial, nAGQ = 0, control = ctl),
  grouseticks_nagq0 = function(ctl) glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION),
    grouse, poisson, nAGQ = 0, control = ctl),
  grouseticks_index_nagq0 = function(ctl) glmer(TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION),
    grouse, poisson, nAGQ = 0, control = ctl),
  cbpp_cloglog_offset_weights = function(ctl) glmer(incidence / size ~ period + offset(log(size / 15)) + (1 | herd),
    cbpp, binomial(link = "cloglog"), weights = size, control = ctl),
  fewlevels = function(ctl) lmer(y ~ x + (1 | g), fewlevels, REML = TRUE, control = ctl)
)
out <- list()
for (id in names(cases)) {
  lmm <- id == "fewlevels"
  fits <- list(suppressWarnings(cases[[id]](if (lmm) lmerControl() else glmerControl())),
               suppressWarnings(cases[[id]](if (lmm) tight_l else tight_g)))
  out[[id]] <- describe(fits)
}
out[["_provenance"]] <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  command = "Rscript tests/reference/optimum_cases.R tests/reference/data tests/reference/optimum_cases.json",
  criterion = "-2 log L for glmer (lme4's logLik), REMLcrit for lmer; the lower of the default and the tight fit")
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), args[2])
