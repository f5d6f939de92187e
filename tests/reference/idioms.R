# More lme4 idioms from users' scripts: a term subtracted after a random one, %in%,
# R's pmin/pmax/ifelse/relevel in the fixed part, lme4's dummy() in a random term.
# Usage (from tests/reference): Rscript idioms.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
sleep <- sleepstudy
sleep$g2 <- as.character((as.integer(sleep$Subject) - 1) %% 3)
cases <- list(
  minus_after_random = list(formula = "Reaction ~ Days + (1 + Days | Subject) - 1", data = "sleep"),
  in_operator = list(formula = "Reaction ~ Days %in% g2 + (1 | Subject)", data = "sleep"),
  pmin_pmax = list(formula = "Reaction ~ pmin(Days, 5) + pmax(Days, 2) + (1 | Subject)", data = "sleep"),
  ifelse = list(formula = "Reaction ~ ifelse(Days > 4, 1, 0) + Days + (1 | Subject)", data = "sleep"),
  relevel = list(formula = "Reaction ~ relevel(factor(g2), ref = \"1\") + Days + (1 | Subject)", data = "sleep"),
  dummy = list(formula = "angle ~ recipe + temp + (1 | replicate) + (0 + dummy(recipe, \"A\") | replicate)", data = "cake")
)
rows <- c(1, 2, 6, 7, 100)
out <- list(lme4_version = as.character(packageVersion("lme4")), rows = rows)
for (id in names(cases)) {
  cs <- cases[[id]]
  d <- get(cs$data)
  m <- lmer(as.formula(cs$formula), data = d)
  out[[id]] <- list(formula = cs$formula, data = cs$data, names = names(fixef(m)),
                    fixef = unname(fixef(m)), se = unname(sqrt(diag(as.matrix(vcov(m))))),
                    loglik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")),
                    # the new-data path on all rows (R re-evaluates relevel(factor(g2)) on
                    # the new rows, and fails when they lack the reference level)
                    predict = unname(predict(m, newdata = d)[rows]),
                    predict_rows_error = tryCatch({ predict(m, newdata = d[rows, ]); NULL },
                                                  error = function(e) conditionMessage(e)))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "idioms.json")
