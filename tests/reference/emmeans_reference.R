# Estimated marginal means and contrasts against R's emmeans: Machines (two crossed terms),
# cake by temperature (and an unbalanced cake for the reference grid's weights), an
# Oxboys growth model with a numeric covariate at its mean, cbpp on the response scale, and a
# sum-coded model. Kenward-Roger df (emmeans' default for lmer fits) and Satterthwaite's.
# The GLMM is fitted with a tight PIRLS tolerance and optimizer (lme4's default stops early).
# Usage (from tests/reference): Rscript emmeans_reference.R
suppressPackageStartupMessages({ library(lme4); library(emmeans); library(jsonlite) })
shipped <- "../../src/mixedmodels/datasets/data"
read <- function(dir, name) read.csv(file.path(dir, paste0(name, ".csv")), stringsAsFactors = TRUE)
num <- function(x) ifelse(is.finite(x), x, -1)  # df = Inf is written as -1
grid_out <- function(s) {
  s <- as.data.frame(s)
  est <- intersect(c("emmean", "prob", "rate", "response"), names(s))[1]
  lo <- intersect(c("lower.CL", "asymp.LCL"), names(s))[1]
  up <- intersect(c("upper.CL", "asymp.UCL"), names(s))[1]
  vars <- setdiff(names(s), c(est, "SE", "df", lo, up))
  list(labels = lapply(s[vars], as.character), estimate = s[[est]], se = s$SE,
       df = num(s$df), lower = s[[lo]], upper = s[[up]])
}
con_out <- function(s) {
  s <- as.data.frame(s)
  est <- intersect(c("estimate", "odds.ratio", "ratio"), names(s))[1]
  stat <- intersect(c("t.ratio", "z.ratio"), names(s))[1]
  vars <- setdiff(names(s), c(est, "SE", "df", "null", stat, "p.value"))
  list(labels = lapply(s[vars], as.character), estimate = s[[est]], se = s$SE,
       df = num(s$df), statistic = s[[stat]], p = s$p.value)
}
fit_out <- function(m) list(fixef = unname(fixef(m)), theta = unname(getME(m, "theta")))

machines <- read("data", "Machines")
mm <- lmer(score ~ Machine + (1 | Worker) + (1 | Worker:Machine), machines)
em_kr <- emmeans(mm, "Machine")
em_sat <- emmeans(mm, "Machine", lmer.df = "satterthwaite")
ctrl <- contrast(em_kr, "trt.vs.ctrl", adjust = "holm")
custom <- contrast(em_kr, list(A_vs_BC = c(1, -0.5, -0.5), B_vs_C = c(0, 1, -1)),
                   adjust = "bonferroni")
machines_out <- list(
  fit = fit_out(mm),
  emm_kr = grid_out(summary(em_kr)), emm_sat = grid_out(summary(em_sat)),
  pairs_kr = con_out(summary(pairs(em_kr))), pairs_sat = con_out(summary(pairs(em_sat))),
  pairs_none = con_out(summary(pairs(em_kr, adjust = "none"))),
  ctrl_holm = con_out(summary(ctrl)), custom_bonferroni = con_out(summary(custom)),
  consec = con_out(summary(contrast(em_kr, "consec", adjust = "none"))),
  eff_bonferroni = con_out(summary(contrast(em_kr, "eff", adjust = "bonferroni"))),
  poly = con_out(summary(contrast(em_kr, "poly")))
)

cake <- read(shipped, "cake")
cake$replicate <- factor(cake$replicate)
cake$temperature <- factor(cake$temp)
mc <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake)
ec <- emmeans(mc, "recipe", by = "temperature")
ec_sat <- emmeans(mc, "recipe", by = "temperature", lmer.df = "satterthwaite")
cake_out <- list(
  fit = fit_out(mc),
  emm_by = grid_out(summary(ec)), pairs_by = con_out(summary(pairs(ec))),
  emm_by_sat = grid_out(summary(ec_sat)), pairs_by_sat = con_out(summary(pairs(ec_sat))),
  emm_recipe = grid_out(summary(emmeans(mc, "recipe"))),
  pairs_recipe = con_out(summary(pairs(emmeans(mc, "recipe")))),
  emm_two = grid_out(summary(emmeans(mc, c("recipe", "temperature"))))
)
# unbalanced: every seventh row dropped, an additive model, the grid's weights
unbalanced <- cake[seq_len(nrow(cake)) %% 7 != 0, ]
mu <- lmer(angle ~ recipe + temperature + (1 | recipe:replicate), unbalanced)
weights_out <- list(fit = fit_out(mu))
for (w in c("equal", "proportional", "outer", "cells", "flat")) {
  weights_out[[w]] <- grid_out(summary(emmeans(mu, "recipe", weights = w)))
}

oxboys <- read(shipped, "Oxboys")
oxboys$Subject <- factor(oxboys$Subject)
oxboys$half <- factor(ifelse(as.integer(as.character(oxboys$Subject)) %% 2 == 1, "odd", "even"),
                      levels = c("even", "odd"))
mo <- lmer(height ~ age * half + (age | Subject), oxboys)
oxboys_out <- list(
  fit = fit_out(mo), mean_age = mean(oxboys$age),
  emm_half = grid_out(summary(emmeans(mo, "half"))),
  pairs_half = con_out(summary(pairs(emmeans(mo, "half")))),
  emm_at = grid_out(summary(emmeans(mo, "half", at = list(age = c(-0.5, 0.5))))),
  pairs_at = con_out(summary(pairs(emmeans(mo, "half", by = "age",
                                           at = list(age = c(-0.5, 0.5)))))),
  emm_age = grid_out(summary(emmeans(mo, "age")))
)

cbpp <- read(shipped, "cbpp")
cbpp$herd <- factor(cbpp$herd)
cbpp$period <- factor(cbpp$period)
tight <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa",
                      optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial,
           control = tight)
eg <- emmeans(g, "period")
cbpp_out <- list(
  fit = fit_out(g),
  emm_link = grid_out(summary(eg)), emm_response = grid_out(summary(eg, type = "response")),
  pairs_link = con_out(summary(pairs(eg))),
  pairs_response_holm = con_out(summary(pairs(eg, adjust = "holm"), type = "response"))
)

ms <- lmer(score ~ Machine + (1 | Worker) + (1 | Worker:Machine), machines,
           contrasts = list(Machine = "contr.sum"))
es <- emmeans(ms, "Machine")
sum_out <- list(fit = fit_out(ms), emm = grid_out(summary(es)),
                pairs = con_out(summary(pairs(es))))
cs <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake,
           contrasts = list(recipe = "contr.sum", temperature = "contr.sum"))
sum_cake <- list(fit = fit_out(cs), emm = grid_out(summary(emmeans(cs, "temperature"))),
                 pairs = con_out(summary(pairs(emmeans(cs, "temperature")))))

out <- list(emmeans_version = as.character(packageVersion("emmeans")),
            lme4_version = as.character(packageVersion("lme4")),
            machines = machines_out, cake = cake_out, cake_weights = weights_out,
            oxboys = oxboys_out, cbpp = cbpp_out, sum_machines = sum_out, sum_cake = sum_cake)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "emmeans_reference.json")
