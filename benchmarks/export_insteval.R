# Writes lme4's InstEval to the CSV named on the command line, with letter-prefixed codes so
# that every program reads the grouping columns (and the two-level service) as factors.
args <- commandArgs(trailingOnly = TRUE)
data("InstEval", package = "lme4")
d <- InstEval
out <- data.frame(s = paste0("s", d$s), d = paste0("d", d$d), dept = paste0("dept", d$dept),
                  service = paste0("service", d$service), y = d$y)
write.csv(out, args[1], row.names = FALSE)
