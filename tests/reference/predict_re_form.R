# lme4's predict() with re.form conditioning on some random-effect terms only.
# Usage (from tests/reference): Rscript predict_re_form.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
pen <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
sleep <- lmer(Reaction ~ Days + (Days || Subject), sleepstudy)
rows <- c(1, 7, 50, 100, 144)
srows <- c(1, 15, 33, 99, 180)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  penicillin = list(
    rows = rows - 1,
    all = unname(predict(pen, newdata = Penicillin[rows, ])),
    plate = unname(predict(pen, newdata = Penicillin[rows, ], re.form = ~ (1 | plate))),
    sample = unname(predict(pen, newdata = Penicillin[rows, ], re.form = ~ (1 | sample))),
    none = unname(predict(pen, newdata = Penicillin[rows, ], re.form = NA))),
  sleepstudy = list(
    rows = srows - 1,
    slope = unname(predict(sleep, newdata = sleepstudy[srows, ], re.form = ~ (0 + Days | Subject))),
    intercept = unname(predict(sleep, newdata = sleepstudy[srows, ], re.form = ~ (1 | Subject))))
)
# glmer: predictions for new rows on both scales, with and without the herd effects
cb <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = glmerControl(tolPwrss = 1e-12))
crows <- c(1, 10, 30, 56)
out$cbpp <- list(
  rows = crows - 1, tolPwrss = 1e-12,
  link = unname(predict(cb, newdata = cbpp[crows, ], type = "link")),
  response = unname(predict(cb, newdata = cbpp[crows, ], type = "response")),
  population = unname(predict(cb, newdata = cbpp[crows, ], type = "response", re.form = NA)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "predict_re_form.json")
