//! A user's entry in Redis: the merged profile, the subject it was built from and every
//! connector's last answer, in one value under one key (`<prefix>{<user_id>}:entry`).
//!
//! One value instead of a hash, a set and a key per connector saves Redis's per-key
//! overhead, and lets the answers be compressed against the profile they were merged into:
//! an answer repeats what the merged profile says, so compressed against it, it costs about
//! a third of what it would compressed alone. The layout, sealed as a whole when encryption
//! at rest is on:
//!
//! - `0xFE 'E' 0x01`;
//! - the profile's `fresh_until` and `keep_until` (Unix ms, `u64` little-endian; both 0 when
//!   the entry holds no profile);
//! - three sections, each its length (`u32` little-endian) and its bytes: the profile's body,
//!   [`packed::pack`]ed as a value on its own, its subject's JSON (earlier builds packed it
//!   too; both read), and the answers: per connector its name (a `u8` length and the bytes),
//!   until when the answer is kept (`u64`) and its JSON (a `u32` length and the bytes), all
//!   compressed as one LZ4 block against the built-in dictionary followed by the body's JSON,
//!   the block prefixed with its unpacked length (`u32`).
//!
//! A hit reads only the first two sections; the answers are unpacked before a fan-out.
//! Writes merge into what the work read before it began ([`Stored::merged`]): the writer of
//! an entry writes all of it.

use bytes::Bytes;

use super::{CachedSource, NewProfile, SourceToStore, packed};

/// What an entry starts with (a sealed value starts with `0xFF`, a packed one `0xFE 'Z'`).
const MARK: [u8; 3] = [0xFE, b'E', 0x01];

/// The largest body or block of answers unpacked: far above what the list caps let enrichd
/// write, so only a value written by something else is refused.
pub const MAX_PROFILE_BYTES: usize = 4 * 1024 * 1024;

/// The largest remembered subject read back (the handle cap keeps real ones under 10 KiB).
pub const MAX_SUBJECT_BYTES: usize = 32 * 1024;

/// The profile part of an entry, as stored: the body [`packed::pack`]ed, the subject JSON (or
/// packed, as earlier builds wrote it).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSection<'a> {
    pub fresh_until_ms: u64,
    pub keep_until_ms: u64,
    pub body: &'a [u8],
    pub subject: &'a [u8],
}

/// One connector's answer as an entry holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSource {
    pub connector: String,
    /// Until when (Unix ms) the answer is kept; past it, it is dropped at the next write.
    pub keep_until_ms: u64,
    /// A [`CachedSource`] as JSON.
    pub json: Vec<u8>,
}

/// A profile as an entry holds it: packed, with its body's JSON (what the answers are
/// compressed against).
#[derive(Debug, Clone, PartialEq)]
struct StoredProfile {
    fresh_until_ms: u64,
    keep_until_ms: u64,
    body: Vec<u8>,
    subject: Vec<u8>,
    body_json: Bytes,
}

/// What a user's entry held when work about them began — the base its writes merge into —
/// and whether the keys of the layout before entries still held something about the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    profile: Option<StoredProfile>,
    sources: Vec<StoredSource>,
    /// Keys of the earlier layout exist: the next write removes them.
    pub legacy: bool,
}

/// Reads the sections of an entry one after the other.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u64(&mut self) -> Option<u64> {
        let (value, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*value))
    }

    fn u32(&mut self) -> Option<usize> {
        let (value, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*value) as usize)
    }

    fn bytes(&mut self, length: usize) -> Option<&'a [u8]> {
        let (bytes, rest) = self.0.split_at_checked(length)?;
        self.0 = rest;
        Some(bytes)
    }

    fn section(&mut self) -> Option<&'a [u8]> {
        let length = self.u32()?;
        self.bytes(length)
    }
}

fn put_section(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).expect("sections are far below 4 GiB");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// An entry's header and sections: the profile (`None` without one) and the answers'
/// section; `None` when `value` is not an entry or is cut short.
fn sections(value: &[u8]) -> Option<(Option<ProfileSection<'_>>, &[u8])> {
    let mut reader = Reader(value.strip_prefix(&MARK)?);
    let fresh_until_ms = reader.u64()?;
    let keep_until_ms = reader.u64()?;
    let body = reader.section()?;
    let subject = reader.section()?;
    let answers = reader.section()?;
    let profile = (!body.is_empty()).then_some(ProfileSection {
        fresh_until_ms,
        keep_until_ms,
        body,
        subject,
    });
    Some((profile, answers))
}

/// The profile section of an entry, without unpacking anything; `None` when `value` is not
/// an entry or is cut short, `Some(None)` when the entry holds no profile.
pub fn profile_of(value: &[u8]) -> Option<Option<ProfileSection<'_>>> {
    sections(value).map(|(profile, _)| profile)
}

/// A subject as stored (JSON, or packed as earlier builds wrote it) as its JSON; `None` when
/// it does not unpack or is longer than [`MAX_SUBJECT_BYTES`] either way.
pub fn subject_json(stored: &[u8]) -> Option<Vec<u8>> {
    packed::unpack(stored, MAX_SUBJECT_BYTES).filter(|s| s.len() <= MAX_SUBJECT_BYTES)
}

/// The dictionary the answers are compressed against: the built-in one, then the body.
fn answers_dictionary(body_json: &[u8]) -> Vec<u8> {
    [packed::DICTIONARY, body_json].concat()
}

impl Stored {
    /// A whole entry read back (opened); `None` when it is not one enrichd wrote.
    pub fn decode(value: &[u8]) -> Option<Stored> {
        let (profile, answers) = sections(value)?;
        let profile = match profile {
            None => None,
            Some(section) => Some(StoredProfile {
                fresh_until_ms: section.fresh_until_ms,
                keep_until_ms: section.keep_until_ms,
                body_json: Bytes::from(packed::unpack(section.body, MAX_PROFILE_BYTES)?),
                body: section.body.to_vec(),
                subject: section.subject.to_vec(),
            }),
        };
        let body_json = profile.as_ref().map_or(&[][..], |p| &p.body_json[..]);
        let sources = decode_answers(answers, body_json)?;
        Some(Stored {
            profile,
            sources,
            legacy: false,
        })
    }

    /// The entry's bytes (to seal and store).
    pub fn encode(&self) -> Vec<u8> {
        let empty = (&[][..], &[][..], &[][..]);
        let (body, subject, body_json) = self
            .profile
            .as_ref()
            .map_or(empty, |p| (&p.body[..], &p.subject[..], &p.body_json[..]));
        let mut out = Vec::with_capacity(64 + body.len() + subject.len());
        out.extend_from_slice(&MARK);
        let (fresh, keep) = self
            .profile
            .as_ref()
            .map_or((0, 0), |p| (p.fresh_until_ms, p.keep_until_ms));
        out.extend_from_slice(&fresh.to_le_bytes());
        out.extend_from_slice(&keep.to_le_bytes());
        put_section(&mut out, body);
        put_section(&mut out, subject);
        put_section(&mut out, &encode_answers(&self.sources, body_json));
        out
    }

    /// This entry with what a write brings: a new profile (kept for its own time from
    /// `now_ms`) and answers that replace those of the same connectors; what is past its
    /// keeping time is dropped.
    pub fn merged(
        &self,
        profile: Option<NewProfile<'_>>,
        sources: &[SourceToStore],
        now_ms: u64,
    ) -> Stored {
        let until = |keep_for: std::time::Duration| {
            now_ms.saturating_add(u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX))
        };
        let profile = match profile {
            Some(new) => {
                let (body, subject) = new.packed.for_redis();
                Some(StoredProfile {
                    fresh_until_ms: new.profile.fresh_until_ms,
                    keep_until_ms: until(new.keep_for),
                    body,
                    subject,
                    body_json: new.profile.body.clone(),
                })
            }
            None => self.profile.clone(),
        }
        .filter(|p| p.keep_until_ms > now_ms);
        let mut kept: Vec<StoredSource> = self
            .sources
            .iter()
            .filter(|old| old.keep_until_ms > now_ms)
            .filter(|old| sources.iter().all(|new| new.connector != old.connector))
            .cloned()
            .collect();
        kept.extend(sources.iter().map(|new| StoredSource {
            connector: new.connector.clone(),
            keep_until_ms: until(new.keep_for),
            json: new.json.clone(),
        }));
        Stored {
            profile,
            sources: kept,
            legacy: self.legacy,
        }
    }

    /// How long Redis keeps the entry from `now_ms`: until its last part is past its
    /// keeping time; `None` when nothing in it is worth keeping.
    pub fn keep_for_ms(&self, now_ms: u64) -> Option<u64> {
        self.profile
            .iter()
            .map(|p| p.keep_until_ms)
            .chain(self.sources.iter().map(|s| s.keep_until_ms))
            .max()
            .filter(|&until| until > now_ms)
            .map(|until| until - now_ms)
    }

    /// The answer of `connector`, when the entry holds a readable one.
    pub fn source(&self, connector: &str) -> Option<CachedSource> {
        self.sources
            .iter()
            .find(|s| s.connector == connector)
            .and_then(|s| serde_json::from_slice(&s.json).ok())
    }

    /// The answers held, by connector.
    pub fn sources(&self) -> &[StoredSource] {
        &self.sources
    }

    /// Until when the profile is fresh and until when it is kept (Unix ms), when the entry
    /// holds one.
    pub fn profile_times(&self) -> Option<(u64, u64)> {
        let profile = self.profile.as_ref()?;
        Some((profile.fresh_until_ms, profile.keep_until_ms))
    }

    /// The profile's body and subject as JSON, when the entry holds a profile.
    pub fn profile_json(&self) -> Option<(Bytes, Vec<u8>)> {
        let profile = self.profile.as_ref()?;
        let subject = subject_json(&profile.subject)?;
        Some((profile.body_json.clone(), subject))
    }
}

/// The answers' bytes, compressed against the body (see the module's documentation).
fn encode_answers(sources: &[StoredSource], body_json: &[u8]) -> Vec<u8> {
    if sources.is_empty() {
        return Vec::new();
    }
    let mut plain = Vec::new();
    for source in sources {
        let name = source.connector.as_bytes();
        plain.push(
            u8::try_from(name.len())
                .expect("connector names are at most 64 bytes (checked with the config)"),
        );
        plain.extend_from_slice(name);
        plain.extend_from_slice(&source.keep_until_ms.to_le_bytes());
        put_section(&mut plain, &source.json);
    }
    packed::compress_block(
        &packed::length_of(&plain),
        &plain,
        &answers_dictionary(body_json),
    )
}

/// The answers of an entry; `None` when they do not unpack or are cut short.
fn decode_answers(section: &[u8], body_json: &[u8]) -> Option<Vec<StoredSource>> {
    if section.is_empty() {
        return Some(Vec::new());
    }
    let mut reader = Reader(section);
    let length = reader.u32()?;
    if length > MAX_PROFILE_BYTES {
        return None;
    }
    let mut plain = vec![0; length];
    let dictionary = answers_dictionary(body_json);
    let written =
        lz4_flex::block::decompress_into_with_dict(reader.0, &mut plain, &dictionary).ok()?;
    if written != length {
        return None;
    }
    let mut reader = Reader(&plain);
    let mut sources = Vec::new();
    while !reader.0.is_empty() {
        let (&name_length, rest) = reader.0.split_first()?;
        reader.0 = rest;
        let connector = std::str::from_utf8(reader.bytes(usize::from(name_length))?).ok()?;
        let keep_until_ms = reader.u64()?;
        let json = reader.section()?;
        sources.push(StoredSource {
            connector: connector.to_owned(),
            keep_until_ms,
            json: json.to_vec(),
        });
    }
    Some(sources)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cache::CachedProfile;

    fn ada() -> CachedProfile {
        CachedProfile {
            body: Bytes::from_static(
                br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada Lovelace","company":"Analytical Engines"}}}"#,
            ),
            fresh_until_ms: 5_000,
            subject: Bytes::from_static(br#"{"user_id":"u-1","email":"ada@example.com"}"#),
        }
    }

    /// `stored` with `profile` (kept 10 s, packed as the in-process tier packs it) and
    /// `sources`, written at `now_ms`.
    fn written(
        stored: &Stored,
        profile: &CachedProfile,
        sources: &[SourceToStore],
        now_ms: u64,
    ) -> Stored {
        let packed = packed::Packed::pack(profile);
        let new = NewProfile {
            profile,
            packed: &packed,
            keep_for: Duration::from_secs(10),
        };
        stored.merged(Some(new), sources, now_ms)
    }

    fn answer(connector: &str, name: &str) -> SourceToStore {
        let json = format!(
            r#"{{"status":"ok","enrichment":{{"identity":{{"name":"{name}","company":"Analytical Engines"}}}},"confidence":0.9,"fetched_at_ms":1,"fresh_until_ms":3000,"identifiers":"email"}}"#
        );
        SourceToStore {
            connector: connector.to_owned(),
            json: json.into_bytes(),
            keep_for: Duration::from_secs(3),
        }
    }

    #[test]
    fn an_entry_round_trips_and_its_profile_reads_without_the_answers() {
        let entry = written(
            &Stored::default(),
            &ada(),
            &[
                answer("github", "Ada Lovelace"),
                answer("hubspot", "Ada L."),
            ],
            1_000,
        );
        let bytes = entry.encode();
        assert!(bytes.starts_with(&MARK));
        assert_eq!(Stored::decode(&bytes), Some(entry.clone()));
        let section = profile_of(&bytes).unwrap().unwrap();
        assert_eq!(
            (section.fresh_until_ms, section.keep_until_ms),
            (5_000, 11_000)
        );
        assert_eq!(packed::unpack(section.body, 1 << 20).unwrap(), ada().body);
        assert_eq!(
            packed::unpack(section.subject, 1 << 10).unwrap(),
            ada().subject
        );
        assert_eq!(entry.source("hubspot").unwrap().confidence, 0.9);
        assert!(entry.source("x").is_none());
        assert_eq!(entry.keep_for_ms(1_000), Some(10_000));
        assert_eq!(entry.profile_json().unwrap().0, ada().body);
        assert_eq!(entry.profile_times(), Some((5_000, 11_000)));
    }

    #[test]
    fn answers_cost_less_against_the_profile_than_alone() {
        let answers = [answer("github", "Ada Lovelace")];
        let with = written(&Stored::default(), &ada(), &answers, 0);
        let alone = encode_answers(&with.sources, b"");
        let against = encode_answers(&with.sources, &ada().body);
        assert!(
            against.len() < alone.len(),
            "{} vs {}",
            against.len(),
            alone.len()
        );
    }

    #[test]
    fn a_write_replaces_answers_of_its_connectors_keeps_others_and_drops_expired() {
        let first = written(
            &Stored::default(),
            &ada(),
            &[answer("github", "Ada"), answer("hubspot", "Ada L.")],
            1_000,
        );
        // Later, hubspot answers again; github's answer is past its keeping time (4,000).
        let second = first.merged(None, &[answer("hubspot", "Ada Lovelace")], 4_500);
        let names: Vec<&str> = second.sources().iter().map(|s| &s.connector[..]).collect();
        assert_eq!(names, ["hubspot"]);
        assert!(second.source("hubspot").is_some());
        // The profile had no new one: it stays as it was.
        assert_eq!(second.profile_json(), first.profile_json());
        assert_eq!(second.keep_for_ms(4_500), Some(6_500));
        // Each part goes at its own keeping time: hubspot's at 7,500, the profile at 11,000.
        let third = second.merged(None, &[], 8_000);
        assert!(third.sources().is_empty());
        assert_eq!(third.keep_for_ms(8_000), Some(3_000));
        let fourth = third.merged(None, &[answer("x", "Ada")], 11_000);
        assert!(fourth.profile_json().is_none());
        assert_eq!(fourth.keep_for_ms(11_000), Some(3_000));
        assert_eq!(Stored::decode(&fourth.encode()), Some(fourth.clone()));
        assert_eq!(profile_of(&fourth.encode()), Some(None));
        // Nothing left at all is not kept.
        assert_eq!(fourth.merged(None, &[], 14_000).keep_for_ms(14_000), None);
        assert_eq!(Stored::default().keep_for_ms(0), None);
    }

    #[test]
    fn a_write_keeps_live_answers_of_other_connectors_until_their_time() {
        let first = written(
            &Stored::default(),
            &ada(),
            &[answer("github", "Ada"), answer("hubspot", "Ada L.")],
            1_000,
        );
        // At 2,000 both answers are live (kept until 4,000); HubSpot answers again.
        let second = first.merged(None, &[answer("hubspot", "Ada Lovelace")], 2_000);
        let kept: Vec<(&str, u64)> = second
            .sources()
            .iter()
            .map(|s| (&s.connector[..], s.keep_until_ms))
            .collect();
        assert_eq!(kept, [("github", 4_000), ("hubspot", 5_000)]);
        // An answer goes at its keeping time, not a millisecond before.
        assert_eq!(first.merged(None, &[], 3_999).sources().len(), 2);
        assert_eq!(first.merged(None, &[], 4_000).sources().len(), 0);
        let answers_only = Stored::default().merged(None, &[answer("x", "Ada")], 0);
        assert_eq!(answers_only.keep_for_ms(2_999), Some(1));
        assert_eq!(answers_only.keep_for_ms(3_000), None);
    }

    #[test]
    fn answers_and_subjects_unpack_up_to_their_limits_and_not_beyond() {
        // One answer whose framing makes the answers exactly 4 MiB long (the documented limit).
        let framing = 1 + "x".len() + 8 + 4;
        let at_limit = |extra: usize| {
            let json = vec![b'a'; 4 * 1024 * 1024 - framing + extra];
            let source = SourceToStore {
                connector: "x".into(),
                json,
                keep_for: Duration::from_secs(1),
            };
            Stored::decode(&Stored::default().merged(None, &[source], 0).encode())
        };
        assert_eq!(
            at_limit(0).unwrap().sources()[0].json.len(),
            MAX_PROFILE_BYTES - framing
        );
        assert_eq!(at_limit(1), None);
        let with_subject = |length: usize| {
            let profile = CachedProfile {
                subject: Bytes::from(vec![b's'; length]),
                ..ada()
            };
            written(&Stored::default(), &profile, &[], 0).profile_json()
        };
        assert_eq!(with_subject(MAX_SUBJECT_BYTES).unwrap().1.len(), 32 * 1024);
        assert_eq!(with_subject(MAX_SUBJECT_BYTES + 1), None);
    }

    #[test]
    fn anything_not_an_entry_or_cut_short_is_refused() {
        let entry = written(&Stored::default(), &ada(), &[answer("github", "Ada")], 0);
        let bytes = entry.encode();
        for cut in [3, 10, 20, 30, bytes.len() - 1] {
            assert_eq!(Stored::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(profile_of(b"{\"user_id\":1}"), None);
        assert_eq!(profile_of(&packed::pack(b"{}")), None);
        // An answers block that claims more than the limit is not allocated.
        let mut lying = bytes.clone();
        let at = answers_start(&bytes);
        lying[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Stored::decode(&lying), None);
    }

    #[test]
    fn an_entry_with_any_byte_changed_decodes_or_is_refused_never_more() {
        // Redis's bytes are input: a change anywhere (header, lengths, blocks) is refused or
        // decodes to what the lengths say; the decoder never reads past its buffers.
        let entry = written(&Stored::default(), &ada(), &[answer("github", "Ada")], 0);
        let bytes = entry.encode();
        let mut refused = 0;
        for at in 0..bytes.len() {
            for value in [0x00, 0x7F, 0xFF, bytes[at] ^ 0x10] {
                let mut changed = bytes.clone();
                changed[at] = value;
                match Stored::decode(&changed) {
                    Some(decoded) => {
                        let (body, _) = decoded.profile_json().unwrap_or_default();
                        assert!(body.len() <= MAX_PROFILE_BYTES);
                    }
                    None => refused += 1,
                }
            }
        }
        assert!(
            refused > bytes.len(),
            "{refused} of {} refused",
            bytes.len() * 4
        );
    }

    /// Where the answers section starts in `bytes`.
    fn answers_start(bytes: &[u8]) -> usize {
        let mut reader = Reader(&bytes[MARK.len() + 16..]);
        reader.section().unwrap();
        reader.section().unwrap();
        bytes.len() - reader.0.len()
    }
}
