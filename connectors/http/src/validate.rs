//! The checks that turn a manifest into something the connector can call without further
//! validation, reporting every problem at once with its key path inside the manifest
//! (`request.url`, `mapping.identity.nme`, `allowed_hosts[1]`) and an example of a right value.
//!
//! Nothing under `request` or `health` is quoted in a message: those keys carry credentials.

use std::collections::BTreeSet;

use enrichd_sdk::{
    Category, Identifier, SettingsIssue, check_base_url, parse_settings,
    quota::{QuotaHeaders, Reset},
};
use reqwest::{
    Method, Url,
    header::{HeaderName, HeaderValue},
};

use crate::{
    body::BodyTemplate,
    hosts::AllowedHosts,
    manifest::{self, DEFAULT_VERSION, HttpManifest, NotFoundSection},
    mapping::{Mapping, Target, check_pointer},
    responses::NotFoundRules,
    template::Template,
    url_template::{self, UNSET_VARIABLE, UrlTemplate},
};

/// Headers a manifest may not set: they would let it address another virtual host or break
/// the framing of the request.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
];

/// A manifest that passed every check.
#[derive(Clone)]
pub(crate) struct ValidManifest {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) version: String,
    pub(crate) category: Category,
    /// `requires`, without repeats, in the manifest's order.
    pub(crate) requires: Vec<Identifier>,
    pub(crate) hosts: AllowedHosts,
    /// The host of the request URL, for the default description.
    pub(crate) host: String,
    pub(crate) request: RequestPlan,
    pub(crate) not_found: NotFoundRules,
    pub(crate) mapping: Mapping,
    pub(crate) health: Option<HealthPlan>,
    /// The headers of the API's allowance (`quota:`).
    pub(crate) quota: Option<QuotaHeaders<String>>,
}

/// The checked `request:`.
#[derive(Clone)]
pub(crate) struct RequestPlan {
    pub(crate) method: Method,
    pub(crate) url: UrlTemplate,
    pub(crate) headers: Vec<HeaderTemplate>,
    pub(crate) body: Option<BodyTemplate>,
}

/// One header: a checked name and a value that may hold placeholders.
#[derive(Clone)]
pub(crate) struct HeaderTemplate {
    pub(crate) name: HeaderName,
    pub(crate) value: Template,
}

/// The checked `health:`.
#[derive(Debug, Clone)]
pub(crate) struct HealthPlan {
    pub(crate) url: Url,
    pub(crate) expect_status: u16,
}

/// Parse and check `settings`, reporting every problem with the key it concerns.
pub(crate) fn manifest(settings: &serde_json::Value) -> Result<ValidManifest, Vec<SettingsIssue>> {
    let raw: HttpManifest = parse_settings(&manifest::schema(), settings)?;
    let mut issues = Issues::default();

    let name = raw.name.clone();
    if let Some(name) = &name {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
        if !valid {
            issues.add(
                "name",
                format!("`{name}` must be 1-64 of a-z, 0-9, `_` and `-`, e.g. acme-people"),
            );
        }
    }
    let description = raw.description.clone();
    if description.as_deref().is_some_and(|d| d.trim().is_empty()) {
        issues.add(
            "description",
            "is empty: describe the API in one sentence, e.g. \"People API of ACME\", or leave \
             the key out",
        );
    }
    let version = raw
        .version
        .clone()
        .unwrap_or_else(|| DEFAULT_VERSION.into());
    let semver =
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok());
    if !semver {
        issues.add(
            "version",
            format!("`{version}` must be MAJOR.MINOR.PATCH, e.g. \"1.0.0\" (quoted in YAML)"),
        );
    }

    let before = issues.0.len();
    let requires = requires(&raw.requires, &mut issues);
    // A broken `requires` would make every placeholder look unlisted: check against it only
    // when it is sound.
    let listed = (issues.0.len() == before).then_some(requires.as_slice());
    let before = issues.0.len();
    let hosts = allowed_hosts(&raw.allowed_hosts, &mut issues);
    // Likewise, URLs are checked against `allowed_hosts` only when it is sound.
    let allowed = (issues.0.len() == before).then_some(&hosts);
    let base_url = raw
        .base_url
        .as_deref()
        .and_then(|text| base_url(text, allowed, &mut issues));

    let request = match &raw.request {
        Some(request) => request_plan(request, base_url.as_ref(), allowed, listed, &mut issues),
        None => {
            issues.add(
                "request",
                "is required, e.g. request: {method: GET, url: \
                 \"https://api.acme.example/v1/people?email={email}\"}",
            );
            None
        }
    };
    let not_found = not_found(raw.not_found.clone().unwrap_or_default(), &mut issues);
    let mapping = mapping(&raw, &mut issues);
    let health = raw
        .health
        .as_ref()
        .and_then(|health| health_plan(health, base_url.as_ref(), allowed, &mut issues));
    let quota = raw
        .quota
        .as_ref()
        .and_then(|section| quota_headers(section, &mut issues));

    match request {
        Some((request, host)) if issues.0.is_empty() => Ok(ValidManifest {
            name,
            description,
            version,
            category: raw.category.unwrap_or(Category::Other),
            requires,
            hosts,
            host,
            request,
            not_found,
            mapping,
            health,
            quota,
        }),
        _ => Err(issues.0),
    }
}

/// The issues found so far.
#[derive(Default)]
struct Issues(Vec<SettingsIssue>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(SettingsIssue::new(path, message));
    }
}

fn requires(texts: &[String], issues: &mut Issues) -> Vec<Identifier> {
    if texts.is_empty() {
        issues.add(
            "requires",
            "must name the identifiers the call needs, e.g. requires: [email]",
        );
    }
    let mut found: Vec<Identifier> = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        match Identifier::parse(text) {
            Some(id) if !found.contains(&id) => found.push(id),
            Some(_) => {}
            None => issues.add(
                format!("requires[{index}]"),
                format!(
                    "unknown identifier `{text}`: identifiers are email, phone, user_id and \
                     handles.<platform>, e.g. handles.github"
                ),
            ),
        }
    }
    found
}

fn allowed_hosts(entries: &[String], issues: &mut Issues) -> AllowedHosts {
    if entries.is_empty() {
        issues.add(
            "allowed_hosts",
            "must list the hosts the connector may call, e.g. allowed_hosts: [api.acme.example]",
        );
    }
    let (hosts, errors) = AllowedHosts::parse(entries);
    for (index, message) in errors {
        issues.add(format!("allowed_hosts[{index}]"), message);
    }
    hosts
}

/// `base_url` as [`check_base_url`] accepts it (which refuses credentials without quoting
/// them: they belong in `request.headers`), on a host `allowed_hosts` lists.
fn base_url(text: &str, hosts: Option<&AllowedHosts>, issues: &mut Issues) -> Option<Url> {
    let mut found = Vec::new();
    let url = check_base_url("base_url", text, &mut found);
    issues.0.extend(found);
    let url = url?;
    if hosts.is_some_and(|hosts| !hosts.allows(&url)) {
        let host = url.host_str().unwrap_or_default();
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        issues.add(
            "base_url",
            format!(
                "calls `{host}{port}`, which allowed_hosts does not list: add it, \
                 e.g. allowed_hosts: [\"{host}{port}\"]"
            ),
        );
        return None;
    }
    Some(url)
}

/// `text` as an absolute URL: as written, or below `base_url` when it is a path. `Err` says
/// why it cannot be resolved.
fn resolve(text: &str, base_url: Option<&Url>) -> Result<String, String> {
    match (text.starts_with('/'), base_url) {
        (true, Some(base)) => Ok(format!("{}{text}", base.as_str().trim_end_matches('/'))),
        (true, None) => Err(
            "is a path but base_url is not set: set base_url, e.g. base_url: \
             https://api.acme.example, or write an absolute URL"
                .into(),
        ),
        (false, Some(_)) => Err(
            "must be a path below base_url when base_url is set, e.g. /v1/people?email={email}"
                .into(),
        ),
        (false, None) => Ok(text.to_owned()),
    }
}

/// The checked request, with the host it calls.
fn request_plan(
    request: &manifest::RequestTemplate,
    base_url: Option<&Url>,
    hosts: Option<&AllowedHosts>,
    listed: Option<&[Identifier]>,
    issues: &mut Issues,
) -> Option<(RequestPlan, String)> {
    let method = match request
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("GET") => Some(Method::GET),
        Some("POST") => Some(Method::POST),
        Some(_) => {
            issues.add("request.method", "must be GET or POST, e.g. method: GET");
            None
        }
    };

    let url = if request.url.is_empty() {
        issues.add(
            "request.url",
            "is required, e.g. url: \"https://api.acme.example/v1/people?email={email}\"",
        );
        None
    } else {
        match resolve(&request.url, base_url).and_then(|text| UrlTemplate::parse(&text, hosts)) {
            Ok(url) => {
                check_required("request.url", url.template().placeholders(), listed, issues);
                Some(url)
            }
            Err(problem) => {
                // A path whose base_url was refused already has its issue there.
                let reported = request.url.starts_with('/')
                    && base_url.is_none()
                    && issues.0.iter().any(|i| i.path == "base_url");
                if !reported {
                    issues.add("request.url", problem);
                }
                None
            }
        }
    };

    let mut headers = Vec::new();
    for (name, value) in &request.headers {
        let key = format!("request.headers.{name}");
        if let Some(header) = header(name, value.expose(), &key, listed, issues) {
            headers.push(header);
        }
    }

    let body = match (&request.body, &method) {
        (None, _) => None,
        (Some(_), Some(Method::GET)) => {
            issues.add(
                "request.body",
                "is only sent with POST: set method: POST or remove the body",
            );
            None
        }
        (Some(value), _) => {
            let (body, problems) = BodyTemplate::parse(value);
            let valid = problems.is_empty();
            for (path, problem) in problems {
                issues.add(format!("request.body{path}"), problem);
            }
            for (path, identifier) in body.placeholders() {
                check_required(
                    &format!("request.body{path}"),
                    std::iter::once(&identifier),
                    listed,
                    issues,
                );
            }
            valid.then_some(body)
        }
    };

    let (method, url) = (method?, url?);
    let host = url_host(&url);
    Some((
        RequestPlan {
            method,
            url,
            headers,
            body,
        },
        host,
    ))
}

/// The host a URL template calls (its static part), for descriptions.
fn url_host(url: &UrlTemplate) -> String {
    Url::parse(&url.template().probe())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Check one header; its value is never quoted.
fn header(
    name: &str,
    value: &str,
    key: &str,
    listed: Option<&[Identifier]>,
    issues: &mut Issues,
) -> Option<HeaderTemplate> {
    let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
        issues.add(key, "is not a valid header name, e.g. X-Api-Key");
        return None;
    };
    if FORBIDDEN_HEADERS.contains(&header_name.as_str()) {
        issues.add(
            key,
            "is set by the HTTP client and may not be set by a manifest: remove it; headers a \
             manifest sets are e.g. Authorization, Accept or X-Api-Key",
        );
        return None;
    }
    if value.contains("${") {
        issues.add(key, UNSET_VARIABLE);
        return None;
    }
    let template = match Template::parse(value) {
        Ok(template) => template,
        Err(problem) => {
            issues.add(key, problem);
            return None;
        }
    };
    let probe = template.probe();
    if probe.trim().is_empty() || probe.ends_with(' ') {
        issues.add(
            key,
            "is empty or ends with a space (as \"Bearer \" does when its variable is empty): \
             set the variable it is built from, e.g. Authorization: \"Bearer ${ACME_TOKEN}\"",
        );
        return None;
    }
    if HeaderValue::from_str(&probe).is_err() {
        issues.add(
            key,
            "must be printable ASCII on one line (no line breaks or control characters)",
        );
        return None;
    }
    check_required(key, template.placeholders(), listed, issues);
    Some(HeaderTemplate {
        name: header_name,
        value: template,
    })
}

/// Every placeholder but `{user_id}` must be listed in `requires`: enrichd only guarantees
/// those, and would otherwise call without the value. `listed` is `None` when `requires` has
/// problems of its own.
fn check_required<'a>(
    key: &str,
    used: impl Iterator<Item = &'a Identifier>,
    listed: Option<&[Identifier]>,
    issues: &mut Issues,
) {
    let Some(requires) = listed else {
        return;
    };
    let missing: BTreeSet<&Identifier> = used
        .filter(|id| **id != Identifier::UserId && !requires.contains(id))
        .collect();
    for identifier in missing {
        issues.add(
            key,
            format!(
                "uses {{{identifier}}}, which `requires` does not list: add it, \
                 e.g. requires: [{identifier}]"
            ),
        );
    }
}

fn not_found(section: NotFoundSection, issues: &mut Issues) -> NotFoundRules {
    for (index, status) in section.statuses.iter().enumerate() {
        if !(200..=599).contains(status) || (300..=399).contains(status) {
            issues.add(
                format!("not_found.statuses[{index}]"),
                format!(
                    "{status} is not a status an answer can end with (200-299 or 400-599), \
                     e.g. 404"
                ),
            );
        }
    }
    if let Some(pointer) = &section.when_missing
        && let Err(problem) = check_pointer(pointer)
    {
        issues.add("not_found.when_missing", problem);
    }
    if let Some(rule) = &section.when_equals
        && let Err(problem) = check_pointer(&rule.pointer)
    {
        issues.add("not_found.when_equals.pointer", problem);
    }
    NotFoundRules {
        statuses: section.statuses,
        when_missing: section.when_missing,
        when_equals: section.when_equals.map(|rule| (rule.pointer, rule.value)),
    }
}

fn mapping(raw: &HttpManifest, issues: &mut Issues) -> Mapping {
    if raw.mapping.is_empty() {
        issues.add(
            "mapping",
            "must map at least one profile field, e.g. mapping: {identity.name: /person/name}",
        );
    }
    let mut fields = Vec::new();
    for (key, pointer) in &raw.mapping {
        let path = format!("mapping.{key}");
        let target = Target::parse(key).map_err(|problem| issues.add(&path, problem));
        let pointer_ok = check_pointer(pointer).map_err(|problem| issues.add(&path, problem));
        if let (Ok(target), Ok(())) = (target, pointer_ok) {
            fields.push((target, pointer.clone()));
        }
    }
    Mapping::new(fields)
}

/// The checked `quota:`: header names as HTTP allows them, lower-cased.
fn quota_headers(
    section: &manifest::QuotaSection,
    issues: &mut Issues,
) -> Option<QuotaHeaders<String>> {
    let remaining = if section.remaining.trim().is_empty() {
        issues.add(
            "quota.remaining",
            "is required: the header with the calls left, e.g. x-ratelimit-remaining",
        );
        None
    } else {
        quota_header("remaining", &section.remaining, issues)
    };
    let reset = match &section.reset {
        None => Some(Reset::Unknown),
        Some(text) => {
            quota_header("reset", text, issues).map(|header| match section.reset_format {
                manifest::ResetFormat::EpochSeconds => Reset::EpochSeconds(header),
                manifest::ResetFormat::SecondsLeft => Reset::SecondsLeft(header),
                manifest::ResetFormat::Timestamp => Reset::Timestamp(header),
            })
        }
    };
    Some(QuotaHeaders::new(remaining?, reset?))
}

/// `text` as a header name of `quota.<key>`.
fn quota_header(key: &str, text: &str, issues: &mut Issues) -> Option<String> {
    match HeaderName::from_bytes(text.trim().as_bytes()) {
        Ok(name) => Some(name.as_str().to_owned()),
        Err(_) => {
            issues.add(
                format!("quota.{key}"),
                format!("`{text}` is not a header name, e.g. x-ratelimit-remaining"),
            );
            None
        }
    }
}

fn health_plan(
    health: &manifest::HealthSection,
    base_url: Option<&Url>,
    hosts: Option<&AllowedHosts>,
    issues: &mut Issues,
) -> Option<HealthPlan> {
    if !(100..=599).contains(&health.expect_status) {
        issues.add(
            "health.expect_status",
            format!("{} is not an HTTP status, e.g. 200", health.expect_status),
        );
    }
    if health.url.is_empty() {
        issues.add("health.url", "is required, e.g. url: /v1/status");
        return None;
    }
    match resolve(&health.url, base_url).and_then(|text| url_template::parse_fixed(&text, hosts)) {
        Ok(url) => Some(HealthPlan {
            url,
            expect_status: health.expect_status,
        }),
        Err(problem) => {
            let reported = health.url.starts_with('/')
                && base_url.is_none()
                && issues.0.iter().any(|i| i.path == "base_url");
            if !reported {
                issues.add("health.url", problem);
            }
            None
        }
    }
}
