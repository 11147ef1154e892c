//! A local imitation of Salesforce's REST query API for `enrichd demo` and black-box tests,
//! built from Salesforce's own example query result and error bodies.
//!
//! It understands the queries this connector sends (`SELECT <fields> FROM Contact|Lead WHERE
//! Email = '<literal>' ...`), answers the selected fields only, as Salesforce does, and refuses
//! unknown fields, objects and malformed queries with Salesforce's error codes.

use std::sync::atomic::{AtomicU64, Ordering};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Map, Value, json};

use crate::soql::SObject;

/// Salesforce's example query result (one Contact, John Smith).
const QUERY_FIXTURE: &str = include_str!("../fixtures/query-contact.json");
/// Salesforce's 404 for a resource that does not exist.
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");

/// The org's daily API request allowance shown in headers and `/limits`.
const DAILY_ALLOWANCE: u64 = 15_000;

/// Contact fields of the stand-in's schema; a selected field the record has no value for
/// comes back as null, an unknown one is an `INVALID_FIELD` error.
const CONTACT_SCHEMA: &[&str] = &[
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Title",
    "Department",
    "AccountId",
    "Account.Name",
    "Account.Industry",
    "MailingCity",
    "MailingState",
    "MailingCountry",
    "LeadSource",
    "Phone",
    "MobilePhone",
    "CreatedDate",
    "LastModifiedDate",
];
/// Lead fields of the stand-in's schema.
const LEAD_SCHEMA: &[&str] = &[
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Email",
    "Title",
    "Company",
    "Industry",
    "City",
    "State",
    "Country",
    "LeadSource",
    "Status",
    "Rating",
    "Phone",
    "IsConverted",
    "CreatedDate",
    "LastModifiedDate",
];

/// Answers like an org's `https://<MyDomain>.my.salesforce.com` for one Contact, whose Email is
/// `bcooper@biglytics.net`, to callers holding the token [`SalesforceStandIn::TOKEN`]. It has
/// no Leads, so a Lead query finds nothing.
#[derive(Debug)]
pub struct SalesforceStandIn {
    /// The known Contact with every field it has, relationship fields nested.
    contact: Map<String, Value>,
    /// Requests served, shown as the org's API usage.
    requests: AtomicU64,
}

impl SalesforceStandIn {
    /// The only access token the stand-in accepts.
    pub const TOKEN: &'static str = "demo-salesforce-token";
    /// The Email of the one Contact the stand-in knows (compared case-insensitively, as SOQL
    /// compares text).
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";

    pub fn new() -> SalesforceStandIn {
        let fixture: Value = serde_json::from_str(QUERY_FIXTURE).expect("the fixture is JSON");
        let mut contact = fixture["records"][0]
            .as_object()
            .cloned()
            .expect("the fixture has a record");
        // Salesforce's example selects only Id and Name. The other fields are additions for a
        // richer demo; the Email is the demo person's, so that every stand-in knows the same
        // person (the example has no Email at all). The recorded Id and Name are kept.
        let additions = json!({
            "FirstName": "John",
            "LastName": "Smith",
            "Email": Self::KNOWN_EMAIL,
            "Title": "Director of Data Engineering",
            "Department": "Engineering",
            "AccountId": "001RO000004vZcaYAE",
            "Account": {
                "attributes": {
                    "type": "Account",
                    "url": "/services/data/v66.0/sobjects/Account/001RO000004vZcaYAE",
                },
                "Name": "Biglytics",
                "Industry": "Technology",
            },
            "MailingCity": "Cambridge",
            "MailingState": "MA",
            "MailingCountry": "United States",
            "LeadSource": "Web",
            "Phone": "(877) 929-0687",
            "MobilePhone": null,
            "CreatedDate": "2019-10-30T03:30:17.000+0000",
            "LastModifiedDate": "2019-12-07T16:50:06.000+0000",
        });
        for (name, value) in additions.as_object().expect("an object") {
            contact.entry(name.clone()).or_insert_with(|| value.clone());
        }
        SalesforceStandIn {
            contact,
            requests: AtomicU64::new(0),
        }
    }

    /// An answer with the usage header Salesforce puts on every REST response.
    fn respond(&self, status: u16, body: impl Into<String>) -> StandInResponse {
        let used = self.requests.fetch_add(1, Ordering::Relaxed) % DAILY_ALLOWANCE + 1;
        StandInResponse::json(status, body).with_header(
            "sforce-limit-info",
            format!("api-usage={used}/{DAILY_ALLOWANCE}"),
        )
    }

    /// Salesforce's error array with one entry.
    fn error(&self, status: u16, code: &str, message: &str) -> StandInResponse {
        self.respond(
            status,
            json!([{"message": message, "errorCode": code}]).to_string(),
        )
    }

    /// The answer to `GET .../query?q=<soql>`.
    fn query(&self, version: &str, soql: Option<&str>) -> StandInResponse {
        let Some(query) = soql.and_then(Query::parse) else {
            return self.error(
                400,
                "MALFORMED_QUERY",
                "unexpected token: the stand-in reads SELECT ... FROM ... WHERE Email = '...'",
            );
        };
        let Some(object) = SObject::parse(&query.object) else {
            return self.error(
                400,
                "INVALID_TYPE",
                &format!("sObject type '{}' is not supported.", query.object),
            );
        };
        let schema = match object {
            SObject::Contact => CONTACT_SCHEMA,
            SObject::Lead => LEAD_SCHEMA,
        };
        for (index, field) in query.fields.iter().enumerate() {
            if !schema.iter().any(|known| known.eq_ignore_ascii_case(field)) {
                return self.error(
                    400,
                    "INVALID_FIELD",
                    &format!("No such column '{field}' on entity '{}'.", object.name()),
                );
            }
            if query.fields[..index]
                .iter()
                .any(|earlier| earlier.eq_ignore_ascii_case(field))
            {
                return self.error(
                    400,
                    "MALFORMED_QUERY",
                    &format!("duplicate field selected: {field}"),
                );
            }
        }
        let matches = object == SObject::Contact
            && self.contact["Email"]
                .as_str()
                .is_some_and(|email| email.eq_ignore_ascii_case(&query.email));
        let records: Vec<Value> = if matches {
            vec![self.selected(version, &query.fields)]
        } else {
            Vec::new()
        };
        // With one record at most there is no next batch: `done` is true and there is no
        // `nextRecordsUrl`, unlike the recorded example (a page of 3,222 Contacts).
        let body = json!({"totalSize": records.len(), "done": true, "records": records});
        self.respond(200, body.to_string())
    }

    /// The known Contact with only `fields`, the way Salesforce returns a record.
    fn selected(&self, version: &str, fields: &[String]) -> Value {
        let id = self.contact["Id"].as_str().unwrap_or_default();
        let mut record = Map::new();
        record.insert(
            "attributes".into(),
            json!({"type": "Contact", "url": format!("/services/data/{version}/sobjects/Contact/{id}")}),
        );
        for field in fields {
            let canonical = CONTACT_SCHEMA
                .iter()
                .find(|known| known.eq_ignore_ascii_case(field))
                .copied()
                .unwrap_or(field.as_str());
            match canonical.split_once('.') {
                None => {
                    let value = self.contact.get(canonical).cloned().unwrap_or(Value::Null);
                    record.insert(canonical.to_owned(), value);
                }
                Some((relationship, child)) => {
                    let Some(parent) = self.contact.get(relationship).and_then(Value::as_object)
                    else {
                        record.insert(relationship.to_owned(), Value::Null);
                        continue;
                    };
                    let nested = record
                        .entry(relationship.to_owned())
                        .or_insert_with(|| json!({"attributes": parent["attributes"].clone()}));
                    nested[child] = parent.get(child).cloned().unwrap_or(Value::Null);
                }
            }
        }
        Value::Object(record)
    }

    /// The answer to `GET .../limits`.
    fn limits(&self) -> StandInResponse {
        let used = self.requests.load(Ordering::Relaxed) % DAILY_ALLOWANCE;
        let body = json!({
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DailyApiRequests": {"Max": DAILY_ALLOWANCE, "Remaining": DAILY_ALLOWANCE - used},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        });
        self.respond(200, body.to_string())
    }
}

impl Default for SalesforceStandIn {
    fn default() -> SalesforceStandIn {
        SalesforceStandIn::new()
    }
}

impl StandIn for SalesforceStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        if request.bearer_token() != Some(Self::TOKEN) {
            return self
                .error(401, "INVALID_SESSION_ID", "Session expired or invalid")
                .with_header("www-authenticate", "Token");
        }
        let path = request.path.trim_end_matches('/');
        let Some((version, resource)) = path
            .strip_prefix("/services/data/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(version, _)| is_version(version))
        else {
            return self.respond(404, NOT_FOUND_FIXTURE);
        };
        if !matches!(resource, "query" | "limits") {
            return self.respond(404, NOT_FOUND_FIXTURE);
        }
        if request.method != "GET" {
            return self.error(
                405,
                "METHOD_NOT_ALLOWED",
                &format!(
                    "HTTP Method '{}' not allowed. Allowed are GET,HEAD",
                    request.method
                ),
            );
        }
        match resource {
            "query" => self.query(version, request.query("q")),
            _ => self.limits(),
        }
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "access_token": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .email
            .get_or_insert_with(|| Self::KNOWN_EMAIL.to_owned());
    }
}

/// `vNN.N` as in the API's paths.
fn is_version(text: &str) -> bool {
    text.strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && !minor.is_empty()
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The parts of a lookup query the stand-in acts on.
#[derive(Debug, PartialEq)]
struct Query {
    fields: Vec<String>,
    object: String,
    /// The email, unescaped.
    email: String,
}

impl Query {
    /// Read `SELECT a, b FROM Object WHERE Email = '<literal>' <anything>`; keywords are
    /// case-insensitive, as in SOQL.
    fn parse(soql: &str) -> Option<Query> {
        let soql = soql.trim();
        let upper = soql.to_ascii_uppercase();
        let fields_start = upper.strip_prefix("SELECT ").map(|_| "SELECT ".len())?;
        let from = upper[fields_start..].find(" FROM ")? + fields_start;
        let fields: Vec<String> = soql[fields_start..from]
            .split(',')
            .map(|f| f.trim().to_owned())
            .collect();
        if fields.iter().any(String::is_empty) {
            return None;
        }
        let rest = soql[from + " FROM ".len()..].trim_start();
        let (object, rest) = rest.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let condition = rest.get(..5).filter(|w| w.eq_ignore_ascii_case("WHERE"))?;
        let rest = rest[condition.len()..].trim_start();
        let column = rest.get(..5).filter(|w| w.eq_ignore_ascii_case("Email"))?;
        let rest = rest[column.len()..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start();
        let email = unescape_literal(rest)?;
        Some(Query {
            fields,
            object: object.to_owned(),
            email,
        })
    }
}

/// The value of the SOQL string literal at the start of `text`.
fn unescape_literal(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('\'')?.chars();
    let mut value = String::new();
    loop {
        match chars.next()? {
            '\'' => return Some(value),
            '\\' => value.push(match chars.next()? {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'b' => '\u{8}',
                'f' => '\u{c}',
                other => other,
            }),
            c => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soql::{lookup_query, string_literal};

    #[test]
    fn the_connectors_queries_are_read_back() {
        let fields = vec!["Id".to_owned(), "Account.Name".to_owned()];
        let email = r"o'ha\ra@example.com";
        let query = Query::parse(&lookup_query(SObject::Lead, &fields, email)).unwrap();
        assert_eq!(
            query,
            Query {
                fields,
                object: "Lead".into(),
                email: email.into()
            }
        );
    }

    #[test]
    fn literals_round_trip_through_escaping() {
        for text in ["a@b.c", "x' OR 'y", r"\'", "\"\n\t\u{8}\u{c}\r"] {
            assert_eq!(
                unescape_literal(&string_literal(text)).as_deref(),
                Some(text)
            );
        }
        assert_eq!(unescape_literal("'unterminated"), None);
    }

    #[test]
    fn malformed_queries_are_refused() {
        for soql in [
            "",
            "SELECT FROM Contact WHERE Email = 'a'",
            "SELECT Id FROM Contact",
            "SELECT Id FROM Contact WHERE Name = 'a'",
            "SELECT Id FROM Contact WHERE Email = a",
            "SELECT Id,,Name FROM Contact WHERE Email = 'a'",
        ] {
            assert_eq!(Query::parse(soql), None, "{soql}");
        }
    }
}
