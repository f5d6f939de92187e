# lme4's refit() with a new response against a fresh lmer() fit of the same data: the
# refit object's REMLcrit and standard errors disagree with lme4's own deviance
# function at the refit's theta, which agrees with the fresh fit. Who is right is
# written down in tests/test_inference.py (test_refit_is_a_fresh_fit).
# Usage (from tests/reference): Rscript refit_reference.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
m <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
y2 <- sleepstudy$Reaction + 10 * sin(seq_len(180))
r <- refit(m, y2)
d2 <- sleepstudy
d2$Reaction <- y2
f <- lmer(Reaction ~ Days + (Days | Subject), d2)
dev <- lmer(Reaction ~ Days + (Days | Subject), d2, devFunOnly = TRUE)
fit_of <- function(x) list(se = unname(sqrt(diag(as.matrix(vcov(x))))),
                           theta = unname(getME(x, "theta")), remlcrit = REMLcrit(x),
                           fixef = unname(fixef(x)))
out <- list(lme4_version = as.character(packageVersion("lme4")),
            new_response = "Reaction + 10 * sin(1:180)",
            refit = c(fit_of(r), devfun_at_theta = dev(getME(r, "theta"))),
            fresh = c(fit_of(f), devfun_at_theta = dev(getME(f, "theta"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "refit_reference.json")
