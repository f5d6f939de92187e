# R's coefficient names and R's spline bases, for mm.lmm(..., names="r") and ns()/bs():
# lme4 fits whose names R builds from logicals, numbered contrasts, polynomial
# contrasts, spline and polynomial bases, and factor-valued random slopes; and
# predictions of the spline models beyond the training range (R extends them).
# Usage (from tests/reference): Rscript r_names.R
suppressPackageStartupMessages({ library(lme4); library(splines); library(jsonlite) })
sleep <- sleepstudy
sleep$late <- sleep$Days > 4
cake_ordered <- cake  # temperature is ordered in lme4's cake
cases <- list(
  logical = list(formula = "Reaction ~ late * Days + (1 | Subject)", data = "sleep"),
  logical_slope = list(formula = "Reaction ~ Days + (0 + late | Subject)", data = "sleep"),
  logical_no_intercept = list(formula = "Reaction ~ 0 + late + Days + (1 | Subject)", data = "sleep"),
  ns_df = list(formula = "Reaction ~ ns(Days, 3) + (1 | Subject)", data = "sleep"),
  ns_knots = list(formula = "Reaction ~ ns(Days, knots = c(2, 5)) + (Days | Subject)", data = "sleep"),
  bs_df = list(formula = "Reaction ~ bs(Days, df = 4) + (1 | Subject)", data = "sleep"),
  bs_degree = list(formula = "Reaction ~ bs(Days, knots = 4, degree = 2) + (1 | Subject)", data = "sleep"),
  poly_raw = list(formula = "Reaction ~ poly(Days, 2, raw = TRUE) + (1 | Subject)", data = "sleep"),
  squared = list(formula = "Reaction ~ Days + I(Days^2) + I(Days * 2 - 1) + (1 | Subject)", data = "sleep"),
  factor_days = list(formula = "Reaction ~ factor(Days) + (1 | Subject)", data = "sleep"),
  ordered = list(formula = "angle ~ recipe + temperature + (1 | recipe:replicate)", data = "cake_ordered"),
  sum = list(formula = "angle ~ recipe * temp + (1 | recipe:replicate)", data = "cake",
             contrasts = "contr.sum"),
  helmert = list(formula = "angle ~ recipe * temp + (1 | recipe:replicate)", data = "cake",
                 contrasts = "contr.helmert"),
  factor_slope = list(formula = "angle ~ temp + (0 + recipe | replicate)", data = "cake")
)
new <- data.frame(Days = c(-1, 0.5, 4.5, 9, 11), Subject = factor("308", levels = levels(sleep$Subject)))
out <- list(lme4_version = as.character(packageVersion("lme4")), new_days = new$Days)
for (id in names(cases)) {
  cs <- cases[[id]]
  d <- get(cs$data)
  m <- if (is.null(cs$contrasts)) lmer(as.formula(cs$formula), data = d) else
    lmer(as.formula(cs$formula), data = d, contrasts = list(recipe = cs$contrasts))
  re <- ranef(m)[[1]]
  entry <- list(formula = cs$formula, data = cs$data, contrasts = cs$contrasts,
                names = names(fixef(m)), fixef = unname(fixef(m)),
                se = unname(sqrt(diag(as.matrix(vcov(m))))), loglik = as.numeric(logLik(m)),
                ranef_columns = colnames(re))
  if (id == "logical") {
    # lmerTest's type III tests code a logical as a factor, sum-to-zero
    a <- anova(lmerTest::as_lmerModLmerTest(m), type = 3)
    entry$anova <- list(term = rownames(a), numdf = a$NumDF, dendf = a$DenDF, F = a[["F value"]],
                        p = a[["Pr(>F)"]])
  }
  if (startsWith(id, "ns_") || startsWith(id, "bs_"))
    entry$predict_population <- unname(suppressWarnings(predict(m, newdata = new, re.form = NA)))
  out[[id]] <- entry
}
# a GLMM: cbpp's period is a factor (period2, period3, period4)
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)
out$glmm_period <- list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        data = "cbpp", names = names(fixef(g)), fixef = unname(fixef(g)),
                        se = unname(sqrt(diag(as.matrix(vcov(g))))),
                        loglik = as.numeric(logLik(g)), ranef_columns = colnames(ranef(g)$herd))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "r_names.json")
