//! How the cache keeps entries small, in process and in Redis: LZ4 with a built-in dictionary.
//!
//! Profiles and per-source answers are verbose JSON whose keys repeat from one user to the
//! next (sections, provenance paths, connector names). Compressed alone, an entry cannot refer
//! to those repeats; compressed against [`DICTIONARY`] — the key skeleton of a profile of the
//! built-in connectors, every value blanked (`lz4_dictionary.json`) — it can. The dictionary
//! holds no user data and only affects size: any JSON still round-trips exactly.

use bytes::Bytes;

use super::CachedProfile;

/// The key skeleton the entries are compressed against.
pub(super) const DICTIONARY: &[u8] = include_bytes!("lz4_dictionary.json");

/// `input` compressed as one LZ4 block against `dictionary`, after `head` (the length the
/// block unpacks to, or a mark and that length): the one place the compressor is built, so
/// that every caller runs the same machine code.
#[inline(never)]
pub(super) fn compress_block(head: &[u8], input: &[u8], dictionary: &[u8]) -> Vec<u8> {
    let mut out = vec![0; head.len() + lz4_flex::block::get_maximum_output_size(input.len())];
    out[..head.len()].copy_from_slice(head);
    let written =
        lz4_flex::block::compress_into_with_dict(input, &mut out[head.len()..], dictionary)
            .expect("the buffer has room for the worst case");
    out.truncate(head.len() + written);
    out
}

/// The unpacked length of `bytes`, as blocks are prefixed with it (`u32`, little-endian).
pub(super) fn length_of(bytes: &[u8]) -> [u8; 4] {
    u32::try_from(bytes.len())
        .expect("values are far below 4 GiB")
        .to_le_bytes()
}

/// `bytes` compressed, in an allocation of exactly its size.
pub fn compress(bytes: &[u8]) -> Box<[u8]> {
    // The compressor allocates for the worst case; copying the output into an exact
    // allocation lets that buffer be freed whole (shrinking it in place leaves holes).
    Box::from(&compress_block(&length_of(bytes), bytes, DICTIONARY)[..])
}

/// The bytes [`compress`] was given; `None` if `packed` is not its output.
pub fn decompress(packed: &[u8]) -> Option<Vec<u8>> {
    let (length, block) = packed.split_first_chunk::<4>()?;
    unpack_block(block, u32::from_le_bytes(*length) as usize)
}

/// `block` unpacked against [`DICTIONARY`]: exactly `length` bytes, or `None` (a block that
/// unpacks to less or more is not one enrichd wrote).
fn unpack_block(block: &[u8], length: usize) -> Option<Vec<u8>> {
    let json = lz4_flex::block::decompress_with_dict(block, length, DICTIONARY).ok()?;
    (json.len() == length).then_some(json)
}

/// What a value packed for Redis starts with: JSON never starts with `0xFE`, and a sealed
/// value starts with `0xFF`, so a value written before packing is told apart and read as it
/// is.
const PACKED: [u8; 3] = [0xFE, b'Z', 0x01];

/// The packed form's header: [`PACKED`], then the unpacked length (`u32`, little-endian).
const HEADER: usize = PACKED.len() + 4;

/// JSON as enrichd stores it in Redis: [`PACKED`], its length, and the LZ4 block compressed
/// against [`DICTIONARY`] (sealed after this, when encryption at rest is on).
pub fn pack(json: &[u8]) -> Vec<u8> {
    let mut header = [0; HEADER];
    header[..PACKED.len()].copy_from_slice(&PACKED);
    header[PACKED.len()..].copy_from_slice(&length_of(json));
    compress_block(&header, json, DICTIONARY)
}

/// A value read from Redis (opened) as the JSON it holds: unpacked if [`pack`] made it, as it
/// is otherwise (written before values were packed). `None` when it claims to unpack to more
/// than `max` bytes or does not unpack — a value enrichd did not write.
pub fn unpack(stored: &[u8], max: usize) -> Option<Vec<u8>> {
    let Some(rest) = stored.strip_prefix(&PACKED) else {
        return Some(stored.to_vec());
    };
    let (length, block) = rest.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    if length > max {
        return None;
    }
    unpack_block(block, length)
}

/// A profile as the in-process tier keeps it: the body compressed as [`compress`] does — the
/// same bytes as a body [`pack`]ed for Redis after its 3-byte mark, so that a profile read
/// from Redis is kept as it came, not compressed again — unpacked in about a microsecond on a
/// hit. The subject is kept as its JSON: tens of bytes, which compressing against the
/// dictionary shrinks by a few bytes for the price of hashing the whole dictionary.
pub struct Packed {
    body: Box<[u8]>,
    subject: Box<[u8]>,
    fresh_until_ms: u64,
}

impl Packed {
    pub fn pack(profile: &CachedProfile) -> Packed {
        Packed {
            body: compress(&profile.body),
            subject: Box::from(&profile.subject[..]),
            fresh_until_ms: profile.fresh_until_ms,
        }
    }

    /// The profile whose body Redis held [`pack`]ed as `body` (opened), kept as it is, with
    /// its subject's JSON; `None` when the body was written before values were packed.
    pub fn adopt(body: &[u8], subject: &[u8], fresh_until_ms: u64) -> Option<Packed> {
        Some(Packed {
            body: Box::from(body.strip_prefix(&PACKED)?),
            subject: Box::from(subject),
            fresh_until_ms,
        })
    }

    /// The body and subject as Redis keeps them: the body [`pack`]ed (the same block after
    /// the mark), the subject as its JSON ([`unpack`] reads either form).
    pub fn for_redis(&self) -> (Vec<u8>, Vec<u8>) {
        ([&PACKED[..], &self.body].concat(), self.subject.to_vec())
    }

    pub fn unpack(&self) -> Option<CachedProfile> {
        Some(CachedProfile {
            body: Bytes::from(decompress(&self.body)?),
            subject: Bytes::copy_from_slice(&self.subject),
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

    fn ada() -> CachedProfile {
        CachedProfile {
            body: Bytes::from_static(br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada"}}}"#),
            fresh_until_ms: 42,
            subject: Bytes::from_static(br#"{"user_id":"u-1","email":"ada@example.com"}"#),
        }
    }

    #[test]
    fn a_profile_round_trips_exactly() {
        let profile = ada();
        assert_eq!(Packed::pack(&profile).unpack(), Some(profile));
    }

    #[test]
    fn a_profile_packed_for_redis_is_adopted_as_it_is_and_plain_json_is_not() {
        let profile = ada();
        let body = pack(&profile.body);
        let adopted = Packed::adopt(&body, &profile.subject, 42).unwrap();
        assert_eq!(adopted.unpack(), Some(profile.clone()));
        // The very bytes the in-process tier would have made.
        assert_eq!(adopted.body, Packed::pack(&profile).body);
        assert!(Packed::adopt(&profile.body, &profile.subject, 42).is_none());
    }

    #[test]
    fn a_packed_profile_is_fresh_until_its_time_and_not_at_it() {
        let packed = Packed::pack(&CachedProfile {
            body: Bytes::from_static(b"{}"),
            fresh_until_ms: 1_000,
            subject: Bytes::new(),
        });
        let at = |ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
        assert!(packed.is_fresh(at(0)));
        assert!(packed.is_fresh(at(999)));
        assert!(!packed.is_fresh(at(1_000)));
        assert!(!packed.is_fresh(at(5_000)));
    }

    #[test]
    fn any_bytes_round_trip_and_garbage_is_refused() {
        for input in [&b""[..], b"\x00\xff not json", DICTIONARY] {
            assert_eq!(decompress(&compress(input)).as_deref(), Some(input));
        }
        assert_eq!(decompress(b"\xff\xff\xff\x7f garbage"), None);
    }

    #[test]
    fn values_packed_for_redis_unpack_exactly_and_older_ones_read_as_they_are() {
        let json = br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada"}},"provenance":{}}"#;
        let packed = pack(json);
        assert!(packed.starts_with(&PACKED));
        assert_eq!(unpack(&packed, 1024).as_deref(), Some(&json[..]));
        // Exactly the length it claims fits; one byte less of room does not.
        assert_eq!(unpack(&packed, json.len()).as_deref(), Some(&json[..]));
        assert_eq!(unpack(&packed, json.len() - 1), None);
        // Written before packing: as it is.
        assert_eq!(unpack(json, 1024).as_deref(), Some(&json[..]));
        assert_eq!(unpack(b"", 1024).as_deref(), Some(&b""[..]));
        // A header that lies, a cut block, no length at all: not a value enrichd wrote.
        let mut lying = packed.clone();
        lying[PACKED.len()..HEADER].copy_from_slice(&(json.len() as u32 + 5).to_le_bytes());
        assert_eq!(unpack(&lying, 1024), None);
        assert_eq!(unpack(&packed[..packed.len() - 3], 1024), None);
        assert_eq!(unpack(&PACKED, 1024), None);
        let mut huge = PACKED.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            unpack(&huge, 1 << 20),
            None,
            "never allocates what a header claims"
        );
        assert!(pack(json).len() < json.len());
    }

    #[test]
    fn a_packed_profile_gives_redis_the_block_pack_makes_and_the_subject_as_json() {
        let profile = ada();
        let (body, subject) = Packed::pack(&profile).for_redis();
        assert_eq!(body, pack(&profile.body));
        assert_eq!(subject, profile.subject);
        assert_eq!(
            unpack(&subject, 1024).as_deref(),
            Some(&profile.subject[..])
        );
    }

    #[test]
    fn a_corrupted_block_unpacks_to_its_length_or_not_at_all() {
        // What Redis gives back is input: every byte of a packed body changed, one at a time,
        // to several values, never makes the decoder read or write out of its buffers — it
        // refuses the block, or fills exactly the length the header claims.
        let json = br#"{"user_id":"u-1","profile":{"identity":{"name":"Ada","company":"Analytical Engines"}},"provenance":{"identity.name":{"source":"hubspot"}}}"#;
        let packed = pack(json);
        let mut refused = 0;
        for at in HEADER..packed.len() {
            for value in [0x00, 0x0F, 0x7F, 0xF0, 0xFF, packed[at] ^ 0x01] {
                let mut corrupted = packed.clone();
                corrupted[at] = value;
                match unpack(&corrupted, 1024) {
                    Some(unpacked) => assert_eq!(unpacked.len(), json.len(), "byte {at} = {value}"),
                    None => refused += 1,
                }
                let mut prefixed = corrupted[PACKED.len()..].to_vec();
                if let Some(unpacked) = decompress(&prefixed) {
                    assert_eq!(unpacked.len(), json.len(), "byte {at} = {value}");
                }
                prefixed.truncate(prefixed.len() / 2);
                assert_eq!(decompress(&prefixed), None, "cut in half");
            }
        }
        assert!(
            refused > 0,
            "some corruptions are caught by the decoder itself"
        );
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
