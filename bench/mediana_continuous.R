# Mediana's clinical scenario evaluation (CSE, patient-level R) for the W3/W4 workloads.
#
#   Rscript bench/mediana_continuous.R WORKLOAD TRIALS SEED OUT.json
#
# W3: 2 arms, 175 patients per arm, normal outcomes (SD 1), means 0 and 0.3, t-test at one-sided
#     2.5% (bench/designs/w3-t-test.yaml).
# W4: 3 arms, 120 patients per arm, means 0 (placebo), 0.25 (low) and 0.40 (high), SD 1; each dose
#     against placebo by t-test, Holm's procedure at one-sided 2.5% familywise
#     (bench/designs/w4-dose-ranging-holm.yaml).
#
# Mediana's TTest is stats::t.test (Welch's; with equal arms and SDs it matches the pooled test
# within Monte Carlo error). Mediana runs its simulations on a cluster of proc.load = 1 worker
# process; only the CSE call is timed (system.time, elapsed: the worker's CPU time is not the
# R session's).
suppressPackageStartupMessages(library(Mediana))

args <- commandArgs(trailingOnly = TRUE)
workload <- args[1]
trials <- as.integer(args[2])
seed <- as.integer(args[3])
out <- args[4]

normal <- function(mean) parameters(parameters(mean = mean, sd = 1))
if (workload == "W3") {
  data <- DataModel() +
    OutcomeDist(outcome.dist = "NormalDist") +
    SampleSize(175) +
    Sample(id = "Placebo", outcome.par = normal(0)) +
    Sample(id = "Treatment", outcome.par = normal(0.3))
  analysis <- AnalysisModel() +
    Test(id = "treatment vs placebo", samples = samples("Placebo", "Treatment"), method = "TTest")
  tests_ <- c("treatment vs placebo")
} else if (workload == "W4") {
  data <- DataModel() +
    OutcomeDist(outcome.dist = "NormalDist") +
    SampleSize(120) +
    Sample(id = "Placebo", outcome.par = normal(0)) +
    Sample(id = "Low", outcome.par = normal(0.25)) +
    Sample(id = "High", outcome.par = normal(0.40))
  analysis <- AnalysisModel() +
    MultAdjProc(proc = "HolmAdj") +
    Test(id = "high vs placebo", samples = samples("Placebo", "High"), method = "TTest") +
    Test(id = "low vs placebo", samples = samples("Placebo", "Low"), method = "TTest")
  tests_ <- c("high vs placebo", "low vs placebo")
} else {
  stop("unknown workload ", workload)
}

evaluation <- EvaluationModel() +
  Criterion(id = "marginal", method = "MarginalPower", tests = do.call(tests, as.list(tests_)),
            labels = tests_, par = parameters(alpha = 0.025))
if (length(tests_) > 1) {
  evaluation <- evaluation +
    Criterion(id = "disjunctive", method = "DisjunctivePower", tests = do.call(tests, as.list(tests_)),
              labels = "any", par = parameters(alpha = 0.025))
}
simulation <- SimParameters(n.sims = trials, proc.load = 1, seed = seed)

timing <- system.time(result <- CSE(data, analysis, evaluation, simulation))

table <- result$simulation.results
marginal <- table$result[table$criterion == "marginal"]
names(marginal) <- as.character(table$test.statistic[table$criterion == "marginal"])
disjunctive <- if (length(tests_) > 1) table$result[table$criterion == "disjunctive"] else marginal[[1]]

num <- function(x) if (length(x) == 1) format(x, digits = 15) else paste0("[", paste(format(x, digits = 15), collapse = ", "), "]")
str <- function(x) paste0("[", paste0('"', x, '"', collapse = ", "), "]")
fields <- c(
  tool = '"Mediana"',
  version = paste0('"', as.character(packageVersion("Mediana")), '"'),
  r_version = paste0('"', R.version$major, ".", R.version$minor, '"'),
  trials = num(trials),
  seconds = num(unname(timing[["elapsed"]])),
  comparisons = str(tests_),
  power_by_comparison = num(unname(marginal[tests_])),
  power = num(disjunctive)
)
json <- paste0("{\n", paste0('  "', names(fields), '": ', fields, collapse = ",\n"), "\n}\n")
writeLines(json, out, sep = "")
