//! The deployment artifacts, validated offline by `deploy/check.sh`: every kustomize overlay
//! renders and validates strictly, the ConfigMap's configuration passes `enrichd check-config`,
//! the alert rules pass `promtool check rules` and `promtool test rules`, the dashboard only
//! uses contract metrics. The script installs its tools (promtool, kubectl, validators) when
//! they are missing.

use std::process::Command;

#[test]
fn deployment_artifacts_validate_offline() {
    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/check.sh"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ENRICHD_BIN", env!("CARGO_BIN_EXE_enrichd"))
        .output()
        .expect("bash runs");
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "deploy/check.sh failed:\n{shown}");
}
