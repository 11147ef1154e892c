//! How the in-process tier keeps entries small: LZ4 with a built-in dictionary.
//!
//! Profiles and per-source answers are verbose JSON whose keys repeat from one user to the
//! next (sections, provenance paths, connector names). Compressed alone, an entry cannot refer
//! to those repeats; compressed against [`DICTIONARY`] — the key skeleton of a profile of the
//! built-in connectors, every value blanked (`lz4_dictionary.json`) — it can. The dictionary
//! holds no user data and only affects size: any JSON still round-trips exactly.

use bytes::Bytes;

use super::CachedProfile;

/// The key skeleton the entries are compressed against.
const DICTIONARY: &[u8] = include_bytes!("lz4_dictionary.json");

/// `bytes` compressed, in an allocation of exactly its size.
pub fn compress(bytes: &[u8]) -> Box<[u8]> {
    // The compressor allocates for the worst case; copying the output into an exact
    // allocation lets that buffer be freed whole (shrinking it in place leaves holes).
    Box::from(&lz4_flex::block::compress_prepend_size_with_dict(bytes, DICTIONARY)[..])
}

/// The bytes [`compress`] was given; `None` if `packed` is not its output.
pub fn decompress(packed: &[u8]) -> Option<Vec<u8>> {
    lz4_flex::block::decompress_size_prepended_with_dict(packed, DICTIONARY).ok()
}

/// A profile as the in-process tier keeps it: body and subject compressed together (the
/// subject's identifiers also appear in the body), unpacked in about a microsecond on a hit.
pub struct Packed {
    both: Box<[u8]>,
    body_len: usize,
    fresh_until_ms: u64,
}

impl Packed {
    pub fn pack(profile: &CachedProfile) -> Packed {
        let mut both = Vec::with_capacity(profile.body.len() + profile.subject.len());
        both.extend_from_slice(&profile.body);
        both.extend_from_slice(&profile.subject);
        Packed {
            both: compress(&both),
            body_len: profile.body.len(),
            fresh_until_ms: profile.fresh_until_ms,
        }
    }

    pub fn unpack(&self) -> Option<CachedProfile> {
        let both = Bytes::from(decompress(&self.both)?);
        Some(CachedProfile {
            body: both.slice(..self.body_len.min(both.len())),
            subject: both.slice(self.body_len.min(both.len())..),
            fresh_until_ms: self.fresh_until_ms,
        })
    }

    pub fn is_fresh(&self, now: std::time::SystemTime) -> bool {
        super::unix_ms(now) < self.fresh_until_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_round_trips_exactly() {
        let profile = CachedProfile {
            body: Bytes::from_static(br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada"}}}"#),
            fresh_until_ms: 42,
            subject: Bytes::from_static(br#"{"user_id":"u-1","email":"ada@example.com"}"#),
        };
        assert_eq!(Packed::pack(&profile).unpack(), Some(profile));
    }

    #[test]
    fn any_bytes_round_trip_and_garbage_is_refused() {
        for input in [&b""[..], b"\x00\xff not json", DICTIONARY] {
            assert_eq!(decompress(&compress(input)).as_deref(), Some(input));
        }
        assert_eq!(decompress(b"\xff\xff\xff\x7f garbage"), None);
    }

    #[test]
    fn the_dictionary_makes_profile_json_smaller() {
        let body = br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada","emails":["ada@example.com"],"handles":{"github":"ada"}},"demographics":{"location":"London"}},"provenance":{"identity.name":{"source":"hubspot","confidence":0.9,"fetched_at":"2026-11-22T00:00:00Z"},"identity.emails":{"source":"hubspot","confidence":0.9,"fetched_at":"2026-11-22T00:00:00Z"}},"sources":[{"connector":"hubspot","status":"ok","latency_ms":12}],"confidence":0.9,"partial":false}"#;
        let without = lz4_flex::compress_prepend_size(body).len();
        assert!(
            compress(body).len() < without * 3 / 4,
            "{} vs {without}",
            compress(body).len()
        );
    }
}
