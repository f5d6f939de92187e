# GLMM results' verbs against lme4: update (a new formula, nAGQ, other data, an offset
# kept), anova between the updates, type III Wald chi-square tests (car::Anova) and
# profile-likelihood intervals (confint(method = "profile")).
# lme4's default glmer stops PIRLS early (tolPwrss = 1e-7) and differences its Hessian,
# so every fit here uses a tight PIRLS tolerance and a tight optimizer.
# Usage (from tests/reference): Rscript glmm_verbs.R
suppressPackageStartupMessages({ library(lme4); library(car); library(jsonlite) })
tight <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa",
                      optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
summ <- function(m) list(formula = deparse1(formula(m)), names = names(fixef(m)),
                         fixef = unname(fixef(m)), loglik = as.numeric(logLik(m)),
                         theta = unname(getME(m, "theta")), nAGQ = m@devcomp$dims[["nAGQ"]])
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
           control = tight)
g0 <- update(g, . ~ . - period)
g9 <- update(g, nAGQ = 9)
half <- cbpp[cbpp$herd %in% levels(cbpp$herd)[1:10], ]
gh <- update(g, data = half)
p <- glmer(incidence ~ period + offset(log(size)) + (1 | herd), cbpp, poisson, control = tight)
p0 <- update(p, . ~ . - period)
a <- anova(g0, g)
w <- car::Anova(g, type = 3)
set.seed(1)
ci <- confint(g, method = "profile", oldNames = FALSE)
cip <- confint(p, method = "profile", oldNames = FALSE)
# a second data set: contraceptive use in Bangladesh districts (mlmRev)
data(Contraception, package = "mlmRev")
cg <- glmer(use ~ age + urban + (1 | district), Contraception, binomial, control = tight)
cic <- confint(cg, method = "profile", oldNames = FALSE)
# a vector-valued term: an SD, a correlation and an SD to profile
cv <- glmer(use ~ age + urban + (urban | district), Contraception, binomial, control = tight)
civ <- confint(cv, method = "profile", oldNames = FALSE)
# type III tests with an interaction: car::Anova tests the model's own coefficients, so the
# model is fitted sum-coded (the hypotheses do not then depend on the coding)
cs <- glmer(use ~ age * urban + (1 | district), Contraception, binomial, control = tight,
            contrasts = list(urban = "contr.sum"))
ws <- car::Anova(cs, type = 3)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  g = summ(g), g0 = summ(g0), g9 = summ(g9), half = summ(gh), half_herds = levels(cbpp$herd)[1:10],
  p = summ(p), p0 = summ(p0),
  anova = list(chisq = a$Chisq[2], df = a$Df[2], p = a[["Pr(>Chisq)"]][2]),
  wald3 = list(term = rownames(w), chisq = w$Chisq, df = w$Df, p = w[["Pr(>Chisq)"]]),
  wald3_interaction = list(formula = "use ~ age * urban + (1 | district)", term = rownames(ws),
                           chisq = ws$Chisq, df = ws$Df, p = ws[["Pr(>Chisq)"]]),
  profile_binomial = list(rows = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2])),
  profile_poisson = list(rows = rownames(cip), lower = unname(cip[, 1]), upper = unname(cip[, 2])),
  contraception = summ(cg),
  profile_contraception = list(rows = rownames(cic), lower = unname(cic[, 1]), upper = unname(cic[, 2])),
  slopes = summ(cv),
  profile_slopes = list(rows = rownames(civ), lower = unname(civ[, 1]), upper = unname(civ[, 2]))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "glmm_verbs.json")
