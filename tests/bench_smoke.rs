//! A short smoke run of the benchmark harness (`bench/smoke.sh`): every scenario with tiny
//! counts, so that the harness keeps working. It checks correctness (every answer 200, one
//! upstream call per connector in the thundering herd, the stalled connector reported as a
//! timeout), never a timing target. The script installs wrk, nginx, redis-server and valgrind
//! when they are missing.

#[path = "support/run_script.rs"]
mod support;

#[test]
fn the_benchmark_harness_runs_end_to_end() {
    support::run_script("bench/smoke.sh");
}
