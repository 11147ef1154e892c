//! `Server-Timing` (PRODUCT.md §10): every enrichment answer says where its time went — the
//! cache's verdict, one entry per connector called, and the total — so that browser devtools
//! and proxies show it: `cache;desc="miss", hubspot;dur=21, github;dur=19, total;dur=24.3`.

use std::{fmt::Write as _, time::Duration};

use super::{SourceOutcome, profile::CacheStatus};
use crate::enrichment::profile::SourceStatus;

/// The entries of the connectors called now (not those answered from their cache, skipped,
/// disabled, or held back by an open circuit).
pub fn of_connectors(outcomes: &[SourceOutcome]) -> String {
    let mut entries = String::new();
    for outcome in outcomes {
        let report = &outcome.report;
        let called = !outcome.from_cache
            && report.status.attempted()
            && report.status != SourceStatus::CircuitOpen;
        if called {
            if !entries.is_empty() {
                entries.push_str(", ");
            }
            let _ = write!(entries, "{};dur={}", report.connector, report.latency_ms);
        }
    }
    entries
}

/// The header: the cache's verdict, the connectors' entries, the total.
pub fn header(cache: CacheStatus, connectors: &str, total: Duration) -> String {
    let mut header = format!("cache;desc=\"{}\"", cache.as_str());
    if !connectors.is_empty() {
        header.push_str(", ");
        header.push_str(connectors);
    }
    let _ = write!(header, ", total;dur={:.1}", total.as_secs_f64() * 1000.0);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(connector: &str, status: SourceStatus, ms: u64, from_cache: bool) -> SourceOutcome {
        let mut outcome = SourceOutcome::without_call(connector, status);
        outcome.report.latency_ms = ms;
        outcome.from_cache = from_cache;
        outcome
    }

    #[test]
    fn only_connectors_called_now_get_an_entry() {
        let outcomes = [
            outcome("hubspot", SourceStatus::Ok, 21, false),
            outcome("github", SourceStatus::Timeout, 400, false),
            outcome("x", SourceStatus::Ok, 0, true),
            outcome("mastodon", SourceStatus::Skipped, 0, false),
            outcome("gravatar", SourceStatus::CircuitOpen, 0, false),
            outcome("pipedrive", SourceStatus::NotFound, 7, false),
        ];
        assert_eq!(
            of_connectors(&outcomes),
            "hubspot;dur=21, github;dur=400, pipedrive;dur=7"
        );
        assert_eq!(of_connectors(&[]), "");
    }

    #[test]
    fn the_header_starts_with_the_cache_and_ends_with_the_total() {
        assert_eq!(
            header(
                CacheStatus::Miss,
                "hubspot;dur=21",
                Duration::from_micros(24_340)
            ),
            "cache;desc=\"miss\", hubspot;dur=21, total;dur=24.3"
        );
        assert_eq!(
            header(CacheStatus::Hit, "", Duration::from_micros(50)),
            "cache;desc=\"hit\", total;dur=0.1"
        );
    }
}
