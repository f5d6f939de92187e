# Reference fits of lme4 models whose formulas call R's formula functions, on
# sleepstudy, with predictions at new Days (the training transform applied to new data).
# Usage (from tests/reference): Rscript formula_functions.R
suppressPackageStartupMessages({ library(lme4); library(splines); library(jsonlite) })
models <- c(
  scale = "Reaction ~ scale(Days) + (1 | Subject)",
  center = "Reaction ~ I(Days - mean(Days)) + (1 | Subject)",
  poly = "Reaction ~ poly(Days, 2) + (1 | Subject)",
  poly_raw = "Reaction ~ poly(Days, 2, raw = TRUE) + (1 | Subject)",
  factor = "Reaction ~ factor(Days) + (1 | Subject)",
  bs = "Reaction ~ bs(Days, df = 4) + (1 | Subject)",
  log_response = "log(Reaction) ~ Days + (Days | Subject)",
  scale_slope = "Reaction ~ scale(Days) + (scale(Days) | Subject)"
)
new <- data.frame(Days = c(0.5, 4.5, 9), Subject = factor("308", levels = levels(sleepstudy$Subject)))
new_factor <- data.frame(Days = c(0, 4, 9), Subject = new$Subject)
out <- list(lme4_version = as.character(packageVersion("lme4")))
for (id in names(models)) {
  m <- lmer(as.formula(models[[id]]), data = sleepstudy, REML = TRUE)
  nd <- if (id == "factor") new_factor else new
  out[[id]] <- list(
    formula = models[[id]], names = names(fixef(m)), fixef = unname(fixef(m)),
    se = unname(sqrt(diag(as.matrix(vcov(m))))), loglik = as.numeric(logLik(m)),
    new_days = nd$Days,
    predict_population = unname(predict(m, newdata = nd, re.form = NA)),
    predict_subject = unname(predict(m, newdata = nd))
  )
}
# lme4 idioms: a bar without parentheses (the whole right-hand side is the random term)
# and an arithmetic response with prior weights (glmer's help page example)
idioms <- list(
  bar_intercept = list(formula = "Yield ~ 1 | Batch", data = "Dyestuff"),
  bar_slope = list(formula = "Reaction ~ Days | Subject", data = "sleepstudy"),
  bar_log = list(formula = "log(Reaction) ~ Days | Subject", data = "sleepstudy"),
  ratio_response = list(formula = "incidence/size ~ period + (1 | herd)", data = "cbpp",
                        family = "binomial", weights = "size")
)
for (id in names(idioms)) {
  md <- idioms[[id]]
  d <- get(md$data)
  m <- if (is.null(md$family)) lmer(as.formula(md$formula), data = d) else
    glmer(as.formula(md$formula), data = d, family = md$family, weights = d[[md$weights]])
  out[[paste0("idiom_", id)]] <- list(
    formula = md$formula, data = md$data, family = md$family, weights = md$weights,
    names = names(fixef(m)), fixef = unname(fixef(m)), theta = unname(getME(m, "theta")),
    loglik = as.numeric(logLik(m)))
}
# an ordered factor: R codes it by orthogonal polynomial contrasts (temperature.L, ...)
stopifnot(is.ordered(cake$temperature))
m <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake)
out$ordered_cake <- list(formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
                         names = names(fixef(m)), fixef = unname(fixef(m)),
                         se = unname(sqrt(diag(as.matrix(vcov(m))))),
                         loglik = as.numeric(logLik(m)))
# contrasts = list(recipe = "contr.sum"), and a treatment base other than the first level
m <- lmer(angle ~ recipe * temp + (1 | recipe:replicate), cake,
          contrasts = list(recipe = "contr.sum"))
out$sum_cake <- list(formula = "angle ~ recipe * temp + (1 | recipe:replicate)",
                     names = names(fixef(m)), fixef = unname(fixef(m)),
                     se = unname(sqrt(diag(as.matrix(vcov(m))))), loglik = as.numeric(logLik(m)))
cake_b <- cake
cake_b$recipe <- relevel(cake_b$recipe, ref = "B")
m <- lmer(angle ~ recipe + temp + (1 | recipe:replicate), cake_b)
out$base_cake <- list(formula = "angle ~ recipe + temp + (1 | recipe:replicate)",
                      names = names(fixef(m)), fixef = unname(fixef(m)),
                      se = unname(sqrt(diag(as.matrix(vcov(m))))), loglik = as.numeric(logLik(m)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "formula_functions.json")
