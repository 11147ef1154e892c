//! Signed webhooks: when a job ends, `POST {"job_id", "status", "counts"}` to its URL, signed
//! `enrichd-signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">` (Stripe's
//! scheme: the timestamp inside the MAC stops replays once a receiver bounds its age), retried
//! with exponential backoff until a 2xx or `jobs.webhook_max_attempts`. Only hosts in
//! `jobs.webhook_allowed_hosts` are called, checked on every attempt and every redirect.

use std::{sync::Arc, time::Duration};

use aws_lc_rs::hmac;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use enrichd_sdk::hosts::bare_host;
use reqwest::{Url, redirect};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::model::now_ms;
use crate::enrichment::profile::timestamp;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "enrichd-signature";

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most redirects one attempt follows (each to an allowed host).
const MAX_REDIRECTS: usize = 3;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The signature header's value for `body` sent at `t` (Unix seconds).
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(t.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("t={t},v1={}", hex::encode(context.sign().as_ref()))
}

/// Whether `header` signs `body` with `secret`, at most `tolerance_seconds` away from `now`
/// (Unix seconds): what a receiver checks (README, "Verifying a webhook").
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: u64, tolerance_seconds: u64) -> bool {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if t.abs_diff(now) > tolerance_seconds {
        return false;
    }
    let expected = sign(secret, t, body);
    let expected = expected.rsplit_once("v1=").map_or("", |(_, v)| v);
    signatures
        .iter()
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

/// Whether `url` may receive webhooks: http(s), and its host among `allowed` (normalised).
pub fn allowed(url: &Url, allowed: &[String]) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url
            .host_str()
            .and_then(|host| bare_host(host).ok())
            .is_some_and(|host| allowed.contains(&host))
}

/// Sends the webhooks of one application.
pub struct Webhooks {
    client: reqwest::Client,
    allowed: Arc<Vec<String>>,
    secret: Vec<u8>,
    backoff: Duration,
    max_attempts: u32,
}

/// One attempt, as `GET /v1/jobs/{id}/webhook` shows it.
#[derive(Debug)]
pub struct Attempt {
    pub number: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    pub fn to_json(&self) -> Bytes {
        let entry = json!({
            "attempt": self.number,
            "at": timestamp(std::time::SystemTime::now()),
            "status": self.status,
            "delivered": self.delivered(),
            "error": self.error,
            "duration_ms": self.duration_ms,
        });
        Bytes::from(serde_json::to_vec(&entry).expect("JSON values serialize"))
    }
}

impl Webhooks {
    pub fn new(
        allowed: Vec<String>,
        secret: &str,
        backoff: Duration,
        max_attempts: u32,
    ) -> reqwest::Result<Webhooks> {
        let allowed = Arc::new(allowed);
        let listed = allowed.clone();
        let policy = redirect::Policy::custom(move |attempt| {
            // Only the redirects that keep the method and the body: a 301/302/303 would turn
            // the POST into a GET without it (and its 2xx would pass for a delivery).
            let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
            // `previous` holds the original URL too.
            if !keeps_body {
                attempt.stop()
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if self::allowed(attempt.url(), &listed) {
                attempt.follow()
            } else {
                attempt.error("redirected to a host not in jobs.webhook_allowed_hosts")
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .connect_timeout(Duration::from_secs(2))
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("enrichd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Webhooks {
            client,
            allowed,
            secret: secret.as_bytes().to_vec(),
            backoff,
            max_attempts: max_attempts.max(1),
        })
    }

    /// Whether `url` may receive webhooks.
    pub fn allows(&self, url: &Url) -> bool {
        allowed(url, &self.allowed)
    }

    /// Deliver `body` to `url`: attempts until a 2xx or the last one, each passed to `log`.
    /// Returns whether it was delivered.
    pub async fn deliver<F, Fut>(&self, url: &str, body: Bytes, log: F) -> bool
    where
        F: Fn(Attempt) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let number = std::sync::atomic::AtomicU32::new(0);
        let attempt = || async {
            let n = number.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let attempt = self.attempt(n, url, body.clone()).await;
            let delivered = attempt.delivered();
            log(attempt).await;
            if delivered { Ok(()) } else { Err(()) }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.backoff)
            .with_max_delay(MAX_BACKOFF.max(self.backoff))
            .with_factor(2.0)
            .with_max_times(self.max_attempts as usize - 1);
        attempt.retry(backoff).await.is_ok()
    }

    async fn attempt(&self, number: u32, url: &str, body: Bytes) -> Attempt {
        let started = tokio::time::Instant::now();
        let finish = |status: Option<u16>, error: Option<String>| Attempt {
            number,
            status,
            error,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let parsed = match Url::parse(url) {
            Ok(parsed) if self.allows(&parsed) => parsed,
            _ => {
                return finish(
                    None,
                    Some("the URL's host is not in jobs.webhook_allowed_hosts".into()),
                );
            }
        };
        let t = now_ms() / 1000;
        let signature = sign(&self.secret, t, &body);
        let sent = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let error = (!response.status().is_success()).then(|| format!("answered {status}"));
                finish(Some(status), error)
            }
            Err(err) => finish(None, Some(describe(&err))),
        }
    }
}

/// A transport failure, without the URL (it may carry a token).
fn describe(err: &reqwest::Error) -> String {
    if err.is_redirect() {
        "a redirect was refused (a host not allowed, or too many)".into()
    } else if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_within_the_tolerance_only() {
        let header = sign(b"secret-of-16-bytes", 1_700_000_000, b"{\"job_id\":\"j\"}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        let ok = |h: &str, body: &[u8], now| verify(b"secret-of-16-bytes", h, body, now, 300);
        assert!(ok(&header, b"{\"job_id\":\"j\"}", 1_700_000_100));
        assert!(
            ok(&header, b"{\"job_id\":\"j\"}", 1_700_000_300),
            "the tolerance itself"
        );
        assert!(!ok(&header, b"{\"job_id\":\"k\"}", 1_700_000_100));
        assert!(!ok(&header, b"{\"job_id\":\"j\"}", 1_700_000_301));
        assert!(!verify(
            b"another-secret-16",
            &header,
            b"{\"job_id\":\"j\"}",
            1_700_000_000,
            300
        ));
        assert!(!ok("v1=abc", b"", 0));
        // A receiver rotating secrets accepts any listed v1.
        let rotated = format!("{},v1=00", header.replace("v1=", "v1=ff,v1="));
        assert!(ok(&rotated, b"{\"job_id\":\"j\"}", 1_700_000_000));
    }

    #[test]
    fn only_listed_http_hosts_are_allowed() {
        let listed = vec!["hooks.example.com".to_owned(), "127.0.0.1".to_owned()];
        let ok = |u: &str| allowed(&Url::parse(u).unwrap(), &listed);
        assert!(ok("https://Hooks.Example.com/enrichd?x=1"));
        assert!(ok("http://127.0.0.1:8080/hook"));
        assert!(ok("http://2130706433/hook"));
        assert!(!ok("https://evil.example.com/"));
        assert!(!ok("ftp://hooks.example.com/"));
        assert!(!ok("https://user@hooks.example.com/"));
        assert!(!ok("https://:token@hooks.example.com/"));
        assert!(!ok("http://[::1]/"));
    }
}
