//! Spend control settings (PRODUCT.md §11): what each connector's calls cost
//! (`connectors.<name>.cost`), waterfalls of connectors asked in turn until fields are filled
//! (`enrichment.waterfalls`), and daily budgets per tenant (`budgets`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigIssue, ConnectorConfig, typed::typed};
use crate::domain::{MAX_CREDITS, Tenant, fields::is_until_field, valid_credits};

/// `connectors.<name>.cost:` — credits per call (default 0: free).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostConfig {
    /// What a call that finds the person costs (and one that fails after the upstream may
    /// have charged: a timeout).
    pub per_call: f64,
    /// What a call answering "not found" costs.
    pub per_not_found: f64,
}

/// `enrichment.waterfalls.<name>:` — connectors asked one after another, until the fields are
/// filled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterfallConfig {
    pub connectors: Vec<String>,
    pub until: UntilConfig,
}

/// `enrichment.waterfalls.<name>.until:` — when a waterfall has what it was for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UntilConfig {
    /// Field paths (`identity.company`), each of which an answer must fill.
    pub fields: Vec<String>,
    /// The confidence an answer needs to count.
    #[serde(default)]
    pub min_confidence: f64,
}

/// `budgets.<tenant>:` — what a tenant may spend per UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub daily: f64,
}

fn credits_issue(path: String, credits: f64) -> ConfigIssue {
    ConfigIssue::new(
        path,
        format!("{credits} is not an amount of credits (a number within 0..={MAX_CREDITS})"),
    )
}

/// The problems of a connector's `cost`.
pub(super) fn cost_issues(path: &str, cost: &CostConfig) -> Vec<ConfigIssue> {
    [
        ("per_call", cost.per_call),
        ("per_not_found", cost.per_not_found),
    ]
    .into_iter()
    .filter(|(_, credits)| !valid_credits(*credits))
    .map(|(key, credits)| credits_issue(format!("{path}.cost.{key}"), credits))
    .collect()
}

/// The problems of `enrichment.waterfalls`: unknown connectors, a connector listed twice or
/// in two waterfalls, no connector, no or unknown `until` fields, a confidence outside 0..=1.
pub(super) fn check_waterfalls(
    waterfalls: &BTreeMap<String, WaterfallConfig>,
    connectors: &BTreeMap<String, ConnectorConfig>,
    issues: &mut Vec<ConfigIssue>,
) {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, waterfall) in waterfalls {
        let path = format!("enrichment.waterfalls.{name}");
        if waterfall.connectors.is_empty() {
            issues.push(ConfigIssue::new(
                format!("{path}.connectors"),
                "lists no connector",
            ));
        }
        for (index, connector) in waterfall.connectors.iter().enumerate() {
            let at = format!("{path}.connectors[{index}]");
            if !connectors.contains_key(connector) {
                issues.push(ConfigIssue::new(
                    at,
                    format!("`{connector}` is not a configured connector"),
                ));
            } else if let Some(first) = owner.insert(connector, name) {
                let message = if first == name {
                    format!("`{connector}` is listed twice")
                } else {
                    format!(
                        "`{connector}` is already in waterfall `{first}`; a connector may be in one waterfall only"
                    )
                };
                issues.push(ConfigIssue::new(at, message));
            }
        }
        if waterfall.until.fields.is_empty() {
            issues.push(ConfigIssue::new(
                format!("{path}.until.fields"),
                "names no field; a waterfall without one would never stop",
            ));
        }
        for (index, field) in waterfall.until.fields.iter().enumerate() {
            if !is_until_field(field) {
                issues.push(ConfigIssue::new(
                    format!("{path}.until.fields[{index}]"),
                    format!(
                        "`{field}` is not a single-valued profile field (such as \
                         identity.company, demographics.age, identity.handles.github)"
                    ),
                ));
            }
        }
        let confidence = waterfall.until.min_confidence;
        if !(0.0..=1.0).contains(&confidence) {
            issues.push(ConfigIssue::new(
                format!("{path}.until.min_confidence"),
                format!("{confidence} is outside 0..=1"),
            ));
        }
    }
}

/// `budgets:`, read and checked: by tenant, each `daily` an amount of credits.
pub(super) fn budgets(
    value: Option<Value>,
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<Tenant, f64> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return BTreeMap::new();
    };
    let Some(read) = typed::<BTreeMap<String, BudgetConfig>>(value, "budgets", issues) else {
        return BTreeMap::new();
    };
    let mut budgets = BTreeMap::new();
    for (name, budget) in read {
        let path = format!("budgets.{name}");
        match Tenant::parse(&name) {
            Err(message) => issues.push(ConfigIssue::new(path, message)),
            Ok(_) if !valid_credits(budget.daily) => {
                issues.push(credits_issue(format!("{path}.daily"), budget.daily));
            }
            Ok(tenant) => {
                budgets.insert(tenant, budget.daily);
            }
        }
    }
    budgets
}

#[cfg(test)]
mod tests {
    use crate::{config::Config, connectors::Factories};

    /// The problems of `yaml` (with hubspot and github configured), as `path: message`.
    fn problems(yaml: &str) -> Vec<String> {
        problems_in(&format!(
            "connectors:\n  hubspot: {{settings: {{access_token: t}}}}\n  github: {{}}\n{yaml}"
        ))
    }

    /// The problems of `text` as it is.
    fn problems_in(text: &str) -> Vec<String> {
        match Config::parse(text, "test.yaml", &|_| None, &Factories::builtin()) {
            Ok(_) => Vec::new(),
            Err(err) => err.issues.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn costs_budgets_and_waterfalls_that_make_sense_are_accepted() {
        let yaml = "budgets: {default: {daily: 5000}, marketing: {daily: 0}}\n\
                    enrichment: {waterfalls: {firmo: {connectors: [hubspot, github], \
                    until: {fields: [identity.company, identity.handles.x], min_confidence: 0.8}}}}\n";
        assert_eq!(problems(yaml), Vec::<String>::new());
        let config = Config::parse(
            &format!(
                "connectors:\n  hubspot: {{cost: {{per_call: 0.5, per_not_found: 0}}, settings: {{access_token: t}}}}\n{yaml}"
            ),
            "test.yaml",
            &|_| None,
            &Factories::builtin(),
        )
        .unwrap_err();
        // github is then not configured: the waterfall names it.
        assert_eq!(config.issues.len(), 1, "{config}");
        assert_eq!(
            config.issues[0].path,
            "enrichment.waterfalls.firmo.connectors[1]"
        );
    }

    #[test]
    fn negative_or_absurd_costs_are_named() {
        let found = problems_in(
            "connectors:\n  hubspot: {cost: {per_call: -1, per_not_found: 2e9}, settings: {access_token: t}}\n",
        );
        let found = found.join("\n");
        assert!(
            found.contains("connectors.hubspot.cost.per_call: -1 is not an amount of credits"),
            "{found}"
        );
        assert!(
            found.contains("connectors.hubspot.cost.per_not_found: 2000000000 is not"),
            "{found}"
        );
        let unknown = problems_in("connectors:\n  github: {cost: {per_lookup: 1}}\n").join("\n");
        assert!(unknown.contains("connectors.github.cost"), "{unknown}");
        assert!(unknown.contains("per_lookup"), "{unknown}");
    }

    #[test]
    fn unknown_twice_listed_and_shared_waterfall_connectors_are_named() {
        let found = problems(
            "enrichment: {waterfalls: {\
             a: {connectors: [hubspot, myspace, hubspot], until: {fields: [identity.company]}}, \
             b: {connectors: [github, hubspot], until: {fields: [identity.company]}}}}\n",
        );
        assert_eq!(
            found,
            [
                "enrichment.waterfalls.a.connectors[1]: `myspace` is not a configured connector",
                "enrichment.waterfalls.a.connectors[2]: `hubspot` is listed twice",
                "enrichment.waterfalls.b.connectors[1]: `hubspot` is already in waterfall `a`; a connector may be in one waterfall only",
            ]
        );
    }

    #[test]
    fn waterfalls_without_connectors_or_fields_and_bad_stops_are_named() {
        let found = problems(
            "enrichment: {waterfalls: {\
             empty: {connectors: [], until: {fields: []}}, \
             odd: {connectors: [github], until: {fields: [interests, identity.company], min_confidence: 1.5}}}}\n",
        );
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("enrichment.waterfalls.empty.connectors: lists no connector"));
        assert!(found[1].starts_with("enrichment.waterfalls.empty.until.fields: names no field"));
        assert!(found[2].starts_with(
            "enrichment.waterfalls.odd.until.fields[0]: `interests` is not a single-valued"
        ));
        assert_eq!(
            found[3],
            "enrichment.waterfalls.odd.until.min_confidence: 1.5 is outside 0..=1"
        );
        let no_until =
            problems("enrichment: {waterfalls: {w: {connectors: [github]}}}\n").join("\n");
        assert!(
            no_until.contains("enrichment.waterfalls.w") && no_until.contains("until"),
            "{no_until}"
        );
    }

    #[test]
    fn budgets_name_bad_tenants_and_amounts() {
        let found =
            problems("budgets: {Marketing: {daily: 5}, ops: {daily: -2}, web: {daily: 1}}\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("budgets.Marketing: must be 1-32 characters"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("budgets.ops.daily: -2 is not an amount"),
            "{found:?}"
        );
        let shape = problems("budgets: {ops: 5}\n").join("\n");
        assert!(shape.starts_with("budgets.ops"), "{shape}");
        let limit = problems("budgets: {ops: {daily: 1, monthly: 30}}\n").join("\n");
        assert!(limit.contains("monthly"), "{limit}");
    }
}
