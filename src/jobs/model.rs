//! What a bulk job is: its status, its counts, its stored description ([`Meta`]) and the
//! lines of its results.

use std::{collections::HashMap, time::SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{clock::unix_ms, domain::Tenant, enrichment::profile::timestamp};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Cancelled,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Running,
            Status::Completed,
            Status::Cancelled,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether subjects are still to be worked on.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Queued | Status::Running)
    }
}

/// How one subject ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A profile with every source answering.
    Ok,
    /// A profile, some sources having failed (`partial: true`).
    Partial,
    /// No profile: an invalid line, every source failed, a budget refused it...
    Failed,
    /// An identifier of the subject is suppressed: nothing was called or stored.
    Suppressed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Partial,
        Outcome::Failed,
        Outcome::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Suppressed => "suppressed",
        }
    }
}

/// A job's counts: `total` counts every line (an invalid one ends as `failed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: u64,
    pub done: u64,
    pub ok: u64,
    pub partial: u64,
    pub failed: u64,
    pub suppressed: u64,
}

impl Counts {
    /// Count one subject's outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.done += 1;
        *match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Partial => &mut self.partial,
            Outcome::Failed => &mut self.failed,
            Outcome::Suppressed => &mut self.suppressed,
        } += 1;
    }
}

/// A job as it is stored (a Redis hash, or in process).
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub id: String,
    pub tenant: Tenant,
    pub status: Status,
    pub counts: Counts,
    /// Unix ms.
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// Where the webhook goes when the job ends.
    pub webhook: Option<String>,
    /// Every subject skips the cache.
    pub refresh: bool,
    /// Every subject asks only these connectors.
    pub connectors: Option<Vec<String>>,
}

impl Meta {
    /// The hash fields of a new job.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let c = &self.counts;
        let mut fields = vec![
            ("tenant", self.tenant.as_str().to_owned()),
            ("status", self.status.as_str().to_owned()),
            ("total", c.total.to_string()),
            ("done", c.done.to_string()),
            ("ok", c.ok.to_string()),
            ("partial", c.partial.to_string()),
            ("failed", c.failed.to_string()),
            ("suppressed", c.suppressed.to_string()),
            ("created_at", self.created_at.to_string()),
            ("refresh", u8::from(self.refresh).to_string()),
        ];
        if let Some(at) = self.started_at {
            fields.push(("started_at", at.to_string()));
        }
        if let Some(at) = self.finished_at {
            fields.push(("finished_at", at.to_string()));
        }
        if let Some(url) = &self.webhook {
            fields.push(("webhook", url.clone()));
        }
        if let Some(connectors) = &self.connectors {
            fields.push(("connectors", connectors.join(",")));
        }
        fields
    }

    /// The job read back from its hash fields; `None` when they are not a job's.
    pub fn from_fields(id: &str, fields: &HashMap<String, String>) -> Option<Meta> {
        let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
        let count = |name: &str| number(name).unwrap_or(0);
        Some(Meta {
            id: id.to_owned(),
            tenant: Tenant::parse(fields.get("tenant")?).ok()?,
            status: Status::parse(fields.get("status")?)?,
            counts: Counts {
                total: number("total")?,
                done: count("done"),
                ok: count("ok"),
                partial: count("partial"),
                failed: count("failed"),
                suppressed: count("suppressed"),
            },
            created_at: number("created_at")?,
            started_at: number("started_at"),
            finished_at: number("finished_at"),
            webhook: fields.get("webhook").filter(|u| !u.is_empty()).cloned(),
            refresh: fields.get("refresh").is_some_and(|r| r == "1"),
            connectors: fields
                .get("connectors")
                .filter(|c| !c.is_empty())
                .map(|c| c.split(',').map(str::to_owned).collect()),
        })
    }

    /// `GET /v1/jobs/{id}`'s answer at `now` (Unix ms).
    pub fn view(&self, now: u64) -> Value {
        let at = |ms: u64| timestamp(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms));
        json!({
            "job_id": self.id,
            "status": self.status,
            "counts": self.counts,
            "created_at": at(self.created_at),
            "started_at": self.started_at.map(at),
            "finished_at": self.finished_at.map(at),
            "eta_seconds": self.eta_seconds(now),
            "refresh": self.refresh,
            "connectors": self.connectors,
            "webhook": self.webhook.as_ref().map(|_| json!({"configured": true})),
        })
    }

    /// Seconds until the last subject is done, at the pace so far; `None` before a pace is
    /// known, `0` once the job is over.
    pub fn eta_seconds(&self, now: u64) -> Option<u64> {
        if !self.status.is_open() {
            return Some(0);
        }
        let started = self.started_at?;
        let c = &self.counts;
        let elapsed = now.saturating_sub(started).max(1);
        (c.done > 0).then(|| {
            let left = c.total.saturating_sub(c.done);
            (left.saturating_mul(elapsed) / c.done).div_ceil(1000)
        })
    }

    /// What the webhook says.
    pub fn webhook_body(&self) -> Bytes {
        let body = json!({"job_id": self.id, "status": self.status, "counts": self.counts});
        Bytes::from(serde_json::to_vec(&body).expect("JSON values serialize"))
    }
}

/// One subject of one job, as a worker takes it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The stream entry (empty in process).
    pub entry: String,
    pub job: String,
    pub index: u64,
}

/// What recording a result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing: recorded before (a reclaimed subject), or the job is over or gone.
    Not,
    Once,
    /// Recorded, and it was the job's last subject.
    Completed,
}

/// A job to store: its description, the inputs to enrich (index → subject JSON), the lines
/// already decided (invalid lines), and the users its subjects name (for erasure).
pub struct NewJob<'a> {
    pub meta: &'a Meta,
    pub inputs: &'a [(u64, Bytes)],
    pub decided: &'a [(u64, Bytes)],
    pub users: &'a [(crate::domain::UserKey, u64)],
}

/// Now, in Unix ms.
pub fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// One line of the results: `{"index", "user_id", "profile"}` (the profile's stored JSON
/// spliced in as it is) or `{"index", "user_id", "error"}`.
pub fn result_line(index: u64, user_id: Option<&str>, result: Result<&[u8], &Value>) -> Bytes {
    let mut line = BytesMut::with_capacity(64 + result.map_or(128, <[u8]>::len));
    line.put_slice(format!("{{\"index\":{index},\"user_id\":").as_bytes());
    let user_id = serde_json::to_vec(&user_id).expect("strings serialize");
    line.put_slice(&user_id);
    match result {
        Ok(profile) => {
            line.put_slice(b",\"profile\":");
            line.put_slice(profile);
        }
        Err(error) => {
            line.put_slice(b",\"error\":");
            line.put_slice(&serde_json::to_vec(error).expect("JSON values serialize"));
        }
    }
    line.put_u8(b'}');
    line.freeze()
}

/// The line of a subject whose user was erased: nothing about them, not even the id.
pub fn erased_line(index: u64) -> Bytes {
    let error = json!({
        "code": "erased",
        "message": "The user was erased; nothing about them is kept.",
        "details": null,
    });
    result_line(index, None, Err(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            id: "j1".into(),
            tenant: Tenant::parse("sales").unwrap(),
            status: Status::Running,
            counts: Counts {
                total: 10,
                done: 4,
                ok: 2,
                partial: 1,
                failed: 1,
                suppressed: 0,
            },
            created_at: 1_000,
            started_at: Some(2_000),
            finished_at: None,
            webhook: Some("https://hooks.example.com/x".into()),
            refresh: true,
            connectors: Some(vec!["github".into(), "x".into()]),
        }
    }

    #[test]
    fn meta_survives_its_hash_fields() {
        let meta = meta();
        let fields: HashMap<String, String> = meta
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(Meta::from_fields("j1", &fields), Some(meta));
        let mut broken = fields.clone();
        broken.insert("status".into(), "sleeping".into());
        assert_eq!(Meta::from_fields("j1", &broken), None);
        assert_eq!(Meta::from_fields("j1", &HashMap::new()), None);
    }

    #[test]
    fn eta_follows_the_pace_so_far() {
        let mut meta = meta();
        // 4 done in 8 s: 6 left take 12 s.
        assert_eq!(meta.eta_seconds(10_000), Some(12));
        meta.counts.done = 0;
        assert_eq!(meta.eta_seconds(10_000), None);
        meta.status = Status::Completed;
        assert_eq!(meta.eta_seconds(10_000), Some(0));
        let view = meta.view(10_000);
        assert_eq!(view["status"], "completed");
        assert_eq!(view["created_at"], "1970-01-01T00:00:01Z");
        assert_eq!(view["webhook"]["configured"], true);
    }

    #[test]
    fn counts_add_by_outcome() {
        let mut counts = Counts::default();
        for outcome in Outcome::ALL {
            counts.add(outcome);
        }
        assert_eq!(
            (
                counts.done,
                counts.ok,
                counts.partial,
                counts.failed,
                counts.suppressed
            ),
            (4, 1, 1, 1, 1)
        );
    }

    #[test]
    fn lines_splice_the_profile_and_erased_lines_name_nobody() {
        let line = result_line(3, Some("u-1"), Ok(br#"{"user_id":"u-1"}"#));
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            parsed,
            json!({"index": 3, "user_id": "u-1", "profile": {"user_id": "u-1"}})
        );
        let erased: Value = serde_json::from_slice(&erased_line(7)).unwrap();
        assert_eq!(erased["index"], 7);
        assert_eq!(erased["user_id"], Value::Null);
        assert_eq!(erased["error"]["code"], "erased");
        assert!(Status::parse("cancelled").is_some_and(|s| !s.is_open()));
    }
}
