# glmmTMB's nbinom1 fit (Var = mu (1 + phi)) of the Owls data written by
# negbin_reference.R.  Run from the repository root:
#   Rscript tests/reference/owls_nbinom1.R tests/reference
suppressMessages({library(glmmTMB); library(jsonlite)})
out <- commandArgs(trailingOnly = TRUE)[1]
d <- read.csv(file.path(out, "data", "Owls.csv"))
levels <- fromJSON(file.path(out, "data", "Owls.levels.json"))
for (column in names(levels)) d[[column]] <- factor(d[[column]], levels = levels[[column]])
formula <- "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)"
m <- glmmTMB(as.formula(formula), data = d, family = nbinom1)
modes <- ranef(m, condVar = TRUE)$cond$Nest
res <- list(
  id = "owls_nbinom1", dataset = "Owls", formula = formula, family = "nbinom1", link = "log",
  glmmTMB = list(
    logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)$cond),
    se = as.list(sqrt(diag(vcov(m)$cond))), dispersion = sigma(m),
    sd = unname(attr(VarCorr(m)$cond$Nest, "stddev")),
    ranef = data.frame(level = rownames(modes), value = modes[["(Intercept)"]]),
    pdHess = m$sdr$pdHess
  ),
  versions = list(R = R.version.string, glmmTMB = as.character(packageVersion("glmmTMB")))
)
write_json(res, file.path(out, "owls_nbinom1.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
