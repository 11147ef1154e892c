//! The `settings:` section of a Salesforce connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use std::collections::BTreeMap;

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, parse_settings, require_secret,
};
use reqwest::Url;
use serde::Deserialize;
use serde_json::json;

use crate::soql::SObject;

/// The REST API version the mapping was written against (Spring '26).
pub(crate) const DEFAULT_API_VERSION: &str = "v66.0";

/// The Contact fields selected when `fields.Contact` is not set: what the mapping reads.
pub(crate) const DEFAULT_CONTACT_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Title",
    "Department",
    "Account.Name",
    "Account.Industry",
    "MailingCity",
    "MailingCountry",
    "LeadSource",
    "Phone",
    "CreatedDate",
];

/// The Lead fields selected when `fields.Lead` is not set: what the mapping reads.
pub(crate) const DEFAULT_LEAD_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "Email",
    "Title",
    "Company",
    "Industry",
    "City",
    "Country",
    "LeadSource",
    "Status",
    "Rating",
];

/// The settings of a Salesforce connector, as written under `settings:` in `config.yaml`.
///
/// `base_url` and `access_token` are required; the other keys have defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSettings {
    /// The org's instance URL, i.e. its My Domain URL (`https://acme.my.salesforce.com`), as
    /// returned in `instance_url` by Salesforce's OAuth token endpoint. Named `base_url` like
    /// every connector's API root, so tests and `enrichd demo` point it at a local server the
    /// same way. No default: every org has its own.
    #[serde(default)]
    pub base_url: String,
    /// An OAuth access token (or session id) of a user allowed to read Contacts and Leads,
    /// sent as `Authorization: Bearer`. Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub access_token: Secret,
    /// The REST API version, `vNN.N`. Defaults to `v66.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The objects searched, in order: `Contact`, `Lead` or both. Defaults to
    /// `[Contact, Lead]`: a Lead is asked for only when no Contact has the email.
    #[serde(default = "default_objects")]
    pub objects: Vec<String>,
    /// The fields selected per object (`{Contact: [...], Lead: [...]}`); an object left out keeps
    /// its default list. Relationship fields use dots (`Account.Name`). The mapping reads the
    /// default fields only, so the useful change is to narrow a list (leave out `Phone`, say).
    #[serde(default)]
    pub fields: FieldLists,
}

/// The `fields` setting: a list of field names per object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldLists {
    /// Fields of the Contact query. Defaults to the Contact fields the mapping knows.
    #[serde(default, rename = "Contact")]
    pub contact: Option<Vec<String>>,
    /// Fields of the Lead query. Defaults to the Lead fields the mapping knows.
    #[serde(default, rename = "Lead")]
    pub lead: Option<Vec<String>>,
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_objects() -> Vec<String> {
    vec!["Contact".to_owned(), "Lead".to_owned()]
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    pub(crate) access_token: Secret,
    pub(crate) api_version: String,
    /// The objects to query, in order, each with its `SELECT` list.
    pub(crate) objects: Vec<(SObject, Vec<String>)>,
}

/// The schema enrichd lists and uses to redact the token from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(
                PropertyType::Url,
                "The org's instance (My Domain) URL, e.g. https://acme.my.salesforce.com.",
            )
            .required(),
        )
        .property(
            "access_token",
            ConfigProperty::secret(
                "OAuth access token (or session id) of a user who can read Contacts and Leads.",
            )
            .required(),
        )
        .property(
            "api_version",
            ConfigProperty::new(PropertyType::String, "REST API version, vNN.N.")
                .default_value(DEFAULT_API_VERSION),
        )
        .property(
            "objects",
            ConfigProperty::new(
                PropertyType::Array,
                "Objects searched in order: Contact, Lead or both.",
            )
            .default_value(json!(["Contact", "Lead"])),
        )
        .property(
            "fields",
            ConfigProperty::new(PropertyType::Object, "Fields selected per object.").default_value(
                json!({
                    "Contact": DEFAULT_CONTACT_FIELDS,
                    "Lead": DEFAULT_LEAD_FIELDS,
                }),
            ),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: SalesforceSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();

    let base_url = if raw.base_url.trim().is_empty() {
        issues.push(SettingsIssue::new(
            "base_url",
            "is required: the org's instance URL, e.g. https://acme.my.salesforce.com",
        ));
        None
    } else {
        check_base_url("base_url", &raw.base_url, &mut issues)
    };

    require_secret(
        "access_token",
        &raw.access_token,
        "an OAuth access token of a user who can read Contacts and Leads, \
         e.g. \"${SALESFORCE_TOKEN}\"",
        &mut issues,
    );

    if !is_api_version(&raw.api_version) {
        issues.push(SettingsIssue::new(
            "api_version",
            format!(
                "`{}` is not a REST API version, e.g. {DEFAULT_API_VERSION}",
                raw.api_version
            ),
        ));
    }

    let objects = check_objects(&raw.objects, &mut issues);
    let mut lists = BTreeMap::new();
    for (object, configured, default) in [
        (
            SObject::Contact,
            &raw.fields.contact,
            DEFAULT_CONTACT_FIELDS,
        ),
        (SObject::Lead, &raw.fields.lead, DEFAULT_LEAD_FIELDS),
    ] {
        let fields = match configured {
            Some(fields) => {
                check_fields(&format!("fields.{}", object.name()), fields, &mut issues);
                fields.clone()
            }
            None => default.iter().map(|f| (*f).to_owned()).collect(),
        };
        lists.insert(object, fields);
    }

    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            access_token: raw.access_token,
            api_version: raw.api_version,
            objects: objects
                .into_iter()
                .map(|object| (object, lists.remove(&object).unwrap_or_default()))
                .collect(),
        }),
    )
}

/// Whether `text` is `v` + a major version of two or three digits + `.` + one digit.
fn is_api_version(text: &str) -> bool {
    let Some((major, minor)) = text.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    (2..=3).contains(&major.len())
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.len() == 1
        && minor.bytes().all(|b| b.is_ascii_digit())
}

/// The objects of the `objects` setting, each once; problems are reported by index.
fn check_objects(names: &[String], issues: &mut Vec<SettingsIssue>) -> Vec<SObject> {
    if names.is_empty() {
        issues.push(SettingsIssue::new(
            "objects",
            "must name at least one object, e.g. [Contact, Lead]",
        ));
    }
    let mut objects = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match SObject::parse(name) {
            Some(object) if objects.contains(&object) => issues.push(SettingsIssue::new(
                format!("objects.{index}"),
                format!("`{name}` is listed twice"),
            )),
            Some(object) => objects.push(object),
            None => issues.push(SettingsIssue::new(
                format!("objects.{index}"),
                format!("`{name}` is not supported: use Contact or Lead"),
            )),
        }
    }
    objects
}

/// Check one object's field list: non-empty, SOQL field names, no repeats (Salesforce refuses a
/// query that selects a field twice).
fn check_fields(key: &str, fields: &[String], issues: &mut Vec<SettingsIssue>) {
    if fields.is_empty() {
        issues.push(SettingsIssue::new(
            key,
            "must name at least one field, e.g. [Id, Name, Email]",
        ));
    }
    for (index, field) in fields.iter().enumerate() {
        if !is_field_name(field) {
            issues.push(SettingsIssue::new(
                format!("{key}.{index}"),
                format!(
                    "`{field}` is not a field name (letters, digits and `_`, relationships \
                     joined by `.`), e.g. Account.Name"
                ),
            ));
        } else if fields[..index]
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(field))
        {
            issues.push(SettingsIssue::new(
                format!("{key}.{index}"),
                format!("`{field}` is listed twice"),
            ));
        }
    }
}

/// A SOQL field path: identifiers (a letter, then letters, digits, `_`) joined by dots. Only
/// such names are ever put into a query, so a setting cannot inject SOQL.
fn is_field_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text.split('.').all(|part| {
            part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const BASE: &str = "https://acme.my.salesforce.com";

    #[test]
    fn defaults_fill_everything_but_the_instance_and_token() {
        let valid = parse(&json!({"base_url": BASE, "access_token": "00D!x"})).unwrap();
        assert_eq!(valid.base_url.as_str(), "https://acme.my.salesforce.com/");
        assert_eq!(valid.api_version, "v66.0");
        let objects: Vec<SObject> = valid.objects.iter().map(|(o, _)| *o).collect();
        assert_eq!(objects, [SObject::Contact, SObject::Lead]);
        assert_eq!(valid.objects[0].1[..3], ["Id", "Name", "FirstName"]);
        assert!(valid.objects[1].1.contains(&"Company".to_owned()));
    }

    #[test]
    fn api_versions_must_look_like_salesforces() {
        for good in ["v66.0", "v20.0", "v100.0"] {
            assert!(is_api_version(good), "{good}");
        }
        for bad in [
            "66.0", "v66", "v66.00", "v6.0", "V66.0", "v66.x", "v66.0/", "",
        ] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn field_names_cannot_carry_soql() {
        for good in [
            "Id",
            "Account.Name",
            "Custom_Field__c",
            "Owner.Manager.Email",
        ] {
            assert!(is_field_name(good), "{good}");
        }
        for bad in [
            "",
            "Id, Name",
            "Name FROM User --",
            "1st",
            "Account.",
            ".Name",
            "a'b",
        ] {
            assert!(!is_field_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = parse(&json!({
            "base_url": "acme.my.salesforce.com",
            "access_token": " ",
            "api_version": "66",
            "objects": ["Contact", "Account", "contact"],
            "fields": {"Contact": ["Id", "Name FROM User", "id"], "Lead": []},
        }))
        .unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "base_url",
                "access_token",
                "api_version",
                "objects.1",
                "objects.2",
                "fields.Contact.1",
                "fields.Contact.2",
                "fields.Lead",
            ]
        );
    }

    #[test]
    fn one_object_and_a_partial_field_override_are_accepted() {
        let valid = parse(&json!({
            "base_url": BASE, "access_token": "t",
            "objects": ["lead"], "fields": {"Lead": ["Id", "Email"]},
        }))
        .unwrap();
        assert_eq!(
            valid.objects,
            [(SObject::Lead, vec!["Id".into(), "Email".into()])]
        );
    }
}
