//! Provider quotas: what an upstream's rate-limit headers say is left of its allowance, and
//! when it comes back (PRODUCT.md §11). A connector reads them with its [`QuotaHeaders`] and
//! hands them to enrichd with [`EnrichContext::report_quota`](crate::EnrichContext::report_quota);
//! enrichd shows them as `enrichd_connector_quota_remaining` and, at 0, stops calling the
//! connector on every replica until the reset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// What is left of an upstream's allowance after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Calls left.
    pub remaining: u64,
    /// When the allowance comes back, if the upstream says.
    pub resets_at: Option<SystemTime>,
}

/// How an upstream gives the moment its allowance comes back (the header's name is `S`: a
/// `&'static str` in a connector's code, a `String` read from a manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset<S = &'static str> {
    /// Unix epoch seconds in the named header (GitHub, X, Gravatar).
    EpochSeconds(S),
    /// Seconds from now in the named header (Pipedrive).
    SecondsLeft(S),
    /// An RFC 3339 timestamp or epoch seconds in the named header (Mastodon).
    Timestamp(S),
    /// Not given (HubSpot's daily allowance).
    Unknown,
}

/// The rate-limit headers of one upstream.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use enrichd_sdk::{http::UpstreamResponse, quota::{QuotaHeaders, Reset}};
///
/// const GITHUB: QuotaHeaders =
///     QuotaHeaders::new("x-ratelimit-remaining", Reset::EpochSeconds("x-ratelimit-reset"));
/// let response = UpstreamResponse::from_parts(
///     200,
///     &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1800000000")],
///     "{}",
/// );
/// let quota = GITHUB.read(&response.headers, SystemTime::now()).unwrap();
/// assert_eq!(quota.remaining, 0);
/// assert_eq!(quota.resets_at, Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaHeaders<S = &'static str> {
    remaining: S,
    reset: Reset<S>,
}

impl<S> QuotaHeaders<S> {
    pub const fn new(remaining: S, reset: Reset<S>) -> QuotaHeaders<S> {
        QuotaHeaders { remaining, reset }
    }
}

impl<S: AsRef<str>> QuotaHeaders<S> {
    /// The quota `headers` report, if they carry a readable remaining count. A reset that
    /// cannot be read is `None` (enrichd then waits a while and asks again).
    pub fn read(&self, headers: &HeaderMap, now: SystemTime) -> Option<Quota> {
        let remaining = number(headers, self.remaining.as_ref())?;
        let resets_at = match &self.reset {
            Reset::EpochSeconds(name) => number(headers, name.as_ref()).map(epoch),
            Reset::SecondsLeft(name) => number(headers, name.as_ref()).map(|s| now + secs(s)),
            Reset::Timestamp(name) => text(headers, name.as_ref()).and_then(|value| {
                value
                    .parse::<u64>()
                    .ok()
                    .map(epoch)
                    .or_else(|| humantime::parse_rfc3339_weak(value).ok())
            }),
            Reset::Unknown => None,
        };
        Some(Quota {
            remaining,
            resets_at,
        })
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    text(headers, name)?.parse().ok()
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn epoch(seconds: u64) -> SystemTime {
    UNIX_EPOCH + secs(seconds.min(u64::from(u32::MAX) * 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::UpstreamResponse;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        UpstreamResponse::from_parts(200, pairs, "").headers
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        epoch(NOW)
    }

    #[test]
    fn each_reset_form_is_read() {
        let h = headers(&[("r", " 7 "), ("e", "1800000060"), ("s", "2")]);
        let read = |reset| QuotaHeaders::new("r", reset).read(&h, now()).unwrap();
        assert_eq!(
            read(Reset::EpochSeconds("e")).resets_at,
            Some(epoch(NOW + 60))
        );
        assert_eq!(
            read(Reset::SecondsLeft("s")).resets_at,
            Some(epoch(NOW + 2))
        );
        assert_eq!(read(Reset::Unknown).resets_at, None);
        assert_eq!(read(Reset::Unknown).remaining, 7);
        let iso = headers(&[("r", "0"), ("t", "2027-01-15T08:00:00.123456Z")]);
        let quota = QuotaHeaders::new("r", Reset::Timestamp("t"))
            .read(&iso, now())
            .unwrap();
        let at = quota.resets_at.unwrap().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(at, Duration::from_micros(1_800_000_000_123_456));
        let epoch_form = headers(&[("r", "0"), ("t", "1800000030")]);
        let quota = QuotaHeaders::new("r", Reset::Timestamp("t"))
            .read(&epoch_form, now())
            .unwrap();
        assert_eq!(quota.resets_at, Some(epoch(NOW + 30)));
    }

    #[test]
    fn header_names_may_be_owned_strings() {
        let h = headers(&[("x-left", "9"), ("x-back", "1800000060")]);
        let quota = QuotaHeaders::new(
            "x-left".to_owned(),
            Reset::EpochSeconds("x-back".to_owned()),
        );
        assert_eq!(
            quota.read(&h, now()),
            Some(Quota {
                remaining: 9,
                resets_at: Some(epoch(NOW + 60)),
            })
        );
    }

    #[test]
    fn missing_or_garbled_headers_say_nothing() {
        let quota = QuotaHeaders::new("r", Reset::EpochSeconds("e"));
        assert_eq!(quota.read(&headers(&[]), now()), None);
        assert_eq!(quota.read(&headers(&[("r", "-1")]), now()), None);
        assert_eq!(quota.read(&headers(&[("r", "lots")]), now()), None);
        let unreadable_reset = quota.read(&headers(&[("r", "3"), ("e", "soon")]), now());
        assert_eq!(
            unreadable_reset,
            Some(Quota {
                remaining: 3,
                resets_at: None
            })
        );
    }
}
