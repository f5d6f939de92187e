# glmmTMB's zero-inflated Poisson and negative binomial (nbinom2) fits of Salamanders with
# a zero-inflation model `zi = ~ mined`.  Run from the repository root:
#   Rscript tests/reference/salamanders_zi.R tests/reference
suppressMessages({library(glmmTMB); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
d <- read.csv(file.path(out, "data", "Salamanders.csv"))
levels <- fromJSON(file.path(out, "data", "Salamanders.levels.json"))
for (column in names(levels)) d[[column]] <- factor(d[[column]], levels = levels[[column]])
formula <- "count ~ mined + (1 | site)"
for (family in c("poisson", "nbinom2")) {
  m <- glmmTMB(as.formula(formula), zi = ~ mined, data = d,
               family = if (family == "poisson") poisson else nbinom2)
  v <- vcov(m)
  modes <- ranef(m)$cond$site
  res <- list(
    id = paste0("salamanders_zi_", family), dataset = "Salamanders", formula = formula,
    zi = "~ mined", family = family,
    glmmTMB = list(
      logLik = as.numeric(logLik(m)),
      fixef = as.list(fixef(m)$cond), se = as.list(sqrt(diag(v$cond))),
      zi_fixef = as.list(fixef(m)$zi), zi_se = as.list(sqrt(diag(v$zi))),
      sd = unname(attr(VarCorr(m)$cond$site, "stddev")), dispersion = sigma(m),
      ranef = data.frame(level = rownames(modes), value = modes[["(Intercept)"]]),
      pdHess = m$sdr$pdHess
    ),
    versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
  )
  write_json(res, file.path(out, paste0(res$id, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE)
}
