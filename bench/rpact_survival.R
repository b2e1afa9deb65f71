# rpact's patient-level survival simulation (getSimulationSurvival, C++) for the W1/W2 workloads.
#
#   Rscript bench/rpact_survival.R EVENTS TRIALS SEED OUT.json
#
# EVENTS is a comma-separated list of cumulative event counts (looks), e.g. "80,160,240" (W1,
# O'Brien-Fleming) or "240" (W2, fixed design). The design is the one in bench/designs/w1-*.yaml:
# 600 patients, uniform accrual over 24 months, control median 8 months, hazard ratio 0.7,
# 5% dropout per 12 months in each arm, one-sided alpha 0.025, 1:1 allocation.
#
# Accrual: rpact enrols patient i of n at the fixed time i * A / n (A = accrual time); trialsim draws
# uniform entry times over 24 months, whose i-th order statistic has expectation i * 24 / (n + 1).
# rpact gets A = 24 n / (n + 1) months, which puts its patients at those expected times (with
# A = 24 its mean entry time would be 0.02 months later, which shows in the expected duration
# of a fixed design, whose Monte Carlo error is small).
#
# Only the call to getSimulationSurvival is timed (system.time); the per-trial data used for the
# Monte Carlo standard errors is read afterwards. Written to OUT.json without extra packages.
suppressPackageStartupMessages(library(rpact))

args <- commandArgs(trailingOnly = TRUE)
events <- as.numeric(strsplit(args[1], ",")[[1]])
trials <- as.integer(args[2])
seed <- as.integer(args[3])
out <- args[4]
k <- length(events)

design <- if (k == 1) {
  getDesignGroupSequential(kMax = 1, alpha = 0.025, sided = 1)
} else {
  getDesignGroupSequential(
    kMax = k, alpha = 0.025, sided = 1, typeOfDesign = "OF", informationRates = events / events[k]
  )
}

timing <- system.time(
  sim <- getSimulationSurvival(
    design,
    median2 = 8, hazardRatio = 0.7,
    dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12,
    accrualTime = c(0, 24 * 600 / 601), maxNumberOfSubjects = 600,
    plannedEvents = events, directionUpper = FALSE,
    maxNumberOfIterations = trials, seed = seed
  )
)

# Per-trial figures: the stage each trial stopped at, its analysis time and events there.
data <- getData(sim)
last <- data[!duplicated(data$iterationNumber, fromLast = TRUE), ]
rejected <- tapply(data$rejectPerStage, data$iterationNumber, max)
duration <- last$analysisTime
n_events <- last$overallEvents1 + last$overallEvents2

num <- function(x) if (length(x) == 1) format(x, digits = 15) else paste0("[", paste(format(x, digits = 15), collapse = ", "), "]")
fields <- c(
  tool = '"rpact"',
  version = paste0('"', as.character(packageVersion("rpact")), '"'),
  r_version = paste0('"', R.version$major, ".", R.version$minor, '"'),
  trials = num(trials),
  seconds = num(unname(timing[["elapsed"]])),
  cpu_seconds = num(unname(timing[["user.self"]] + timing[["sys.self"]])),
  critical_values = num(design$criticalValues),
  power = num(sim$overallReject),
  power_trials = num(mean(rejected)),
  reject_per_look = num(as.numeric(sim$rejectPerStage)),
  expected_events = num(sim$expectedNumberOfEvents),
  expected_events_sd = num(sd(n_events)),
  expected_duration = num(sim$studyDuration),
  expected_duration_sd = num(sd(duration)),
  analysis_time = num(as.numeric(sim$analysisTime))
)
json <- paste0("{\n", paste0('  "', names(fields), '": ', fields, collapse = ",\n"), "\n}\n")
writeLines(json, out, sep = "")
