//! A short smoke run of the benchmark harness (`bench/smoke.sh`): every scenario with tiny
//! counts, so that the harness keeps working. It checks correctness (every answer 200, one
//! upstream call per connector in the thundering herd, the stalled connector reported as a
//! timeout), never a timing target. The script installs wrk, nginx, redis-server and valgrind
//! when they are missing.

use std::process::Command;

#[test]
fn the_benchmark_harness_runs_end_to_end() {
    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/smoke.sh"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ENRICHD_BIN", env!("CARGO_BIN_EXE_enrichd"))
        .output()
        .expect("bash runs");
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "bench/smoke.sh failed:\n{shown}");
}
