//! Runs one of the repository's check scripts the way CI does, failing with its output.

use std::process::Command;

/// Run `bash <repo>/<script>` from the repository root with `ENRICHD_BIN` set to the test
/// build of the binary; panic with the script's output unless it succeeds.
pub fn run_script(script: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .arg(format!("{root}/{script}"))
        .current_dir(root)
        .env("ENRICHD_BIN", env!("CARGO_BIN_EXE_enrichd"))
        .output()
        .expect("bash runs");
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{shown}");
}
