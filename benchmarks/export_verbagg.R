# Write lme4's VerbAgg data to a CSV for the GLMM benchmark (benchmarks/run.py --models verbagg).
# Usage: Rscript benchmarks/export_verbagg.R OUTFILE
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "benchmarks/data/VerbAgg.csv"
data("VerbAgg", package = "lme4")
d <- VerbAgg[, c("Anger", "Gender", "item", "resp", "id", "btype", "situ", "mode", "r2")]
write.csv(d, out, row.names = FALSE)
cat("wrote", nrow(d), "rows to", out, "\n")
