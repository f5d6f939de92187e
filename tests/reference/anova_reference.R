# lme4's anova() between REML fits: refitted by ML (refit = TRUE, the default) and not
# (refit = FALSE), unweighted and with prior weights and an offset, on sleepstudy; and
# lme4's accessors (deviance, REMLcrit, df.residual) and residual types.
# Usage (from tests/reference): Rscript anova_reference.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
d <- sleepstudy
d$w <- 1 + d$Days / 10
d$off <- 2 * d$Days
table_of <- function(a) list(npar = unname(a$npar), loglik = unname(a$logLik),
                             chisq = unname(a$Chisq), df = unname(a[["Df"]]),
                             p = unname(a[["Pr(>Chisq)"]]))
m0 <- lmer(Reaction ~ Days + (1 | Subject), d)
m1 <- lmer(Reaction ~ Days + (Days | Subject), d)
w0 <- lmer(Reaction ~ Days + (1 | Subject), d, weights = w, offset = off)
w1 <- lmer(Reaction ~ Days + (Days | Subject), d, weights = w, offset = off)
f0 <- lmer(Reaction ~ 1 + (Days | Subject), d)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  refit = table_of(anova(m0, m1)),
  no_refit = table_of(anova(m0, m1, refit = FALSE)),
  weighted = table_of(anova(w0, w1)),
  fixed = table_of(anova(f0, m1))
)
# lme4's accessors under their names
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)
ml <- update(m1, REML = FALSE)
out$accessors <- list(
  reml = list(deviance_ml = deviance(m1, REML = FALSE), remlcrit = REMLcrit(m1),
              df_residual = df.residual(m1)),
  ml = list(deviance = deviance(ml), df_residual = df.residual(ml)),
  glmer = list(deviance = deviance(g), df_residual = df.residual(g)))
# residuals(m, type =, scaled =) of a weighted LMM
out$residuals <- list(
  response = unname(head(residuals(w0), 6)),
  pearson = unname(head(residuals(w0, type = "pearson"), 6)),
  deviance = unname(head(residuals(w0, type = "deviance"), 6)),
  working = unname(head(residuals(w0, type = "working"), 6)),
  scaled = unname(head(residuals(w0, scaled = TRUE), 6)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "anova_reference.json")
