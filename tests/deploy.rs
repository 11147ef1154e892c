//! The deployment artifacts, validated offline by `deploy/check.sh`: every kustomize overlay
//! renders and validates strictly, the ConfigMap's configuration passes `enrichd check-config`,
//! the alert rules pass `promtool check rules` and `promtool test rules`, the dashboard only
//! uses contract metrics. The script installs its tools (promtool, kubectl, validators) when
//! they are missing.

#[path = "support/run_script.rs"]
mod support;

#[test]
fn deployment_artifacts_validate_offline() {
    support::run_script("deploy/check.sh");
}
