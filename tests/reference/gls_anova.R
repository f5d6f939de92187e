# nlme's anova() between gls fits of Ovary (independent and corAR1 residuals): by REML as
# nlme compares them (same fixed effects) and by ML.
# Usage (from tests/reference): Rscript gls_anova.R
suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
g0 <- gls(follicles ~ sin(2*pi*Time) + cos(2*pi*Time), Ovary)
g1 <- update(g0, correlation = corAR1(form = ~ 1 | Mare))
table_of <- function(a) list(loglik = a$logLik, ratio = a$L.Ratio[2], df = unname(a$df))
out <- list(nlme_version = as.character(packageVersion("nlme")),
            reml = table_of(anova(g0, g1)),
            ml = table_of(anova(update(g0, method = "ML"), update(g1, method = "ML"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "gls_anova.json")
