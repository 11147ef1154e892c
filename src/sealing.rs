//! Encryption at rest (`cache.encryption_keys`): every value enrichd writes to Redis about a
//! user is sealed with AES-256-GCM (aws-lc-rs, the library rustls already uses) under the
//! first configured key, with a random 96-bit nonce from the OS and the Redis key it is stored
//! under as associated data — so a value copied under another key, or another user's, does
//! not open. Any configured key opens: rotation is putting the new key first, and values are
//! re-sealed as they are rewritten.
//!
//! A sealed value is `0xFF 'E' 0x01`, the key id's length (one byte) and the id, the nonce,
//! then the ciphertext with its 16-byte tag. JSON never starts with `0xFF`, so a value stored
//! before encryption was turned on is told apart and read as it is (and sealed when
//! rewritten). A value that does not open — sealed under a key no longer configured, altered,
//! or moved under another key — is absent: a cache miss, logged once per key id, never an
//! error for the caller.

use std::{
    borrow::Cow,
    collections::HashSet,
    fmt,
    sync::{Arc, Mutex},
};

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use base64::Engine as _;

/// What starts every sealed value: a byte no JSON text starts with, a letter and a version.
const MAGIC: [u8; 3] = [0xFF, b'E', 0x01];

/// The longest key id (it is stored in every value).
pub const MAX_KEY_ID_LEN: usize = 32;

/// How many distinct unknown key ids are remembered for logging once each (the ids come from
/// Redis, so the set must not grow with what a neighbour writes there).
const MAX_LOGGED_IDS: usize = 16;

/// Seals and opens the values enrichd keeps in Redis; does nothing without keys. Cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Sealer(Option<Arc<Keyring>>);

struct Keyring {
    /// The configured keys, the sealing one first.
    keys: Vec<(String, LessSafeKey)>,
    random: SystemRandom,
    /// Key ids already logged as unknown or failing.
    logged: Mutex<HashSet<String>>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Sealer(off)"),
            Some(ring) => {
                let ids: Vec<&str> = ring.keys.iter().map(|(id, _)| id.as_str()).collect();
                write!(f, "Sealer(keys: {ids:?})")
            }
        }
    }
}

/// One problem with one configured key: the index in the list and what is wrong.
pub type KeyProblem = (usize, &'static str);

impl Sealer {
    /// Keys as configured: `(id, base64 of 32 bytes)`, the sealing key first. Every problem
    /// is reported, none of them quoting a key.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Sealer, Vec<KeyProblem>> {
        let mut problems = Vec::new();
        let mut ring = Vec::new();
        let mut ids = HashSet::new();
        for (index, (id, key)) in keys.into_iter().enumerate() {
            if !is_key_id(id) {
                problems.push((index, "id must be 1-32 of A-Za-z0-9 . _ -, e.g. \"k2\""));
            } else if !ids.insert(id) {
                problems.push((index, "id is used by an earlier key"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .ok()
                .filter(|bytes| bytes.len() == 32);
            match bytes.and_then(|bytes| UnboundKey::new(&AES_256_GCM, &bytes).ok()) {
                Some(unbound) => ring.push((id.to_owned(), LessSafeKey::new(unbound))),
                None => problems.push((
                    index,
                    "key must be 32 random bytes in base64 (e.g. from `openssl rand -base64 32`)",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if ring.is_empty() {
            return Ok(Sealer::default());
        }
        Ok(Sealer(Some(Arc::new(Keyring {
            keys: ring,
            random: SystemRandom::new(),
            logged: Mutex::new(HashSet::new()),
        }))))
    }

    /// Whether `stored` is a sealed value: once it opens, it is known to be one enrichd
    /// wrote under that name (AES-GCM authenticates it).
    pub fn is_sealed(stored: &[u8]) -> bool {
        stored.starts_with(&MAGIC)
    }

    /// Whether values are sealed.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// `plain` as it is to be stored under `name` (the Redis key, and the field of a hash):
    /// sealed under the first key, or as it is without keys.
    pub fn seal<'a>(&self, name: &str, plain: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(ring) = &self.0 else {
            return Cow::Borrowed(plain);
        };
        let (id, key) = &ring.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        ring.random
            .fill(&mut nonce)
            .expect("the operating system's random numbers are available");
        let header = MAGIC.len() + 1 + id.len() + NONCE_LEN;
        let mut sealed = Vec::with_capacity(header + plain.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&MAGIC);
        sealed.push(id.len() as u8);
        sealed.extend_from_slice(id.as_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plain);
        let mut body = sealed.split_off(header);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name.as_bytes()),
            &mut body,
        )
        .expect("a value under 64 GiB seals");
        sealed.append(&mut body);
        Cow::Owned(sealed)
    }

    /// A value read from under `name`, opened: `None` when it is sealed and does not open
    /// (unknown key, altered, or sealed under another name). A value that is not sealed is
    /// returned as it is.
    pub fn open(&self, name: &str, stored: Vec<u8>) -> Option<Vec<u8>> {
        if !stored.starts_with(&MAGIC) {
            return Some(stored);
        }
        let Some((id, nonce, sealed)) = split(&stored) else {
            self.log_once(
                "",
                "A sealed value in Redis is truncated; treated as absent.",
            );
            return None;
        };
        let Some(ring) = &self.0 else {
            self.log_once(
                id,
                "A value in Redis is sealed, and cache.encryption_keys is empty; treated as absent.",
            );
            return None;
        };
        let Some((_, key)) = ring.keys.iter().find(|(known, _)| known == id) else {
            self.log_once(
                id,
                "A value in Redis is sealed with a key id not in cache.encryption_keys; treated as absent.",
            );
            return None;
        };
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        // Opened where it lies, then moved to the front: no second buffer on the read path.
        let header = stored.len() - sealed.len();
        let mut stored = stored;
        match key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut stored[header..]) {
            Ok(plain) => {
                let len = plain.len();
                stored.copy_within(header..header + len, 0);
                stored.truncate(len);
                Some(stored)
            }
            Err(_) => {
                let id = split(&stored).map_or("", |(id, _, _)| id);
                self.log_once(
                    id,
                    "A sealed value in Redis does not open (altered, or copied from another key); treated as absent.",
                );
                None
            }
        }
    }

    /// Log `message` the first time it concerns `id` (the id only when it is one a
    /// configuration could hold: it was read from Redis).
    fn log_once(&self, id: &str, message: &'static str) {
        let shown = if is_key_id(id) { id } else { "(malformed)" };
        if self.first_time(shown) {
            tracing::warn!(key_id = shown, "{message}");
        }
    }

    /// Whether `id` is met for the first time (always, without keys: nothing to remember it
    /// in); at most [`MAX_LOGGED_IDS`] ids are remembered, and once that many have been, new
    /// ones are not logged.
    fn first_time(&self, id: &str) -> bool {
        let Some(ring) = &self.0 else {
            return true;
        };
        let mut logged = ring
            .logged
            .lock()
            .expect("the log-once set is never poisoned");
        logged.len() < MAX_LOGGED_IDS && logged.insert(id.to_owned())
    }
}

/// Whether `id` is a valid key id.
fn is_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A sealed value's key id, nonce and sealed body (with its tag).
fn split(stored: &[u8]) -> Option<(&str, &[u8], &[u8])> {
    let rest = stored.strip_prefix(&MAGIC)?;
    let (&id_len, rest) = rest.split_first()?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN + AES_256_GCM.tag_len() {
        return None;
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    Some((std::str::from_utf8(id).ok()?, nonce, sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn sealer(keys: &[(&str, &str)]) -> Sealer {
        Sealer::from_keys(keys.iter().copied()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_under_its_name_only() {
        let sealer = sealer(&[("k1", K1)]);
        let plain = br#"{"email": "ada@example.com"}"#;
        let sealed = sealer
            .seal("enrichd:{u-1}:profile#body", plain)
            .into_owned();
        assert!(sealed.starts_with(&MAGIC));
        assert!(!sealed.windows(5).any(|w| w == b"email"), "in clear");
        assert_eq!(
            sealer.open("enrichd:{u-1}:profile#body", sealed.clone()),
            Some(plain.to_vec())
        );
        assert_eq!(
            sealer.open("enrichd:{u-2}:profile#body", sealed.clone()),
            None
        );
        let mut altered = sealed;
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open("enrichd:{u-1}:profile#body", altered), None);
    }

    #[test]
    fn every_seal_takes_a_new_nonce() {
        let sealer = sealer(&[("k1", K1)]);
        assert_ne!(
            sealer.seal("n", b"same").into_owned(),
            sealer.seal("n", b"same").into_owned()
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_with_the_first_key() {
        let old = sealer(&[("k1", K1)]);
        let sealed_before = old.seal("n", b"{}").into_owned();
        let rotated = sealer(&[("k2", K2), ("k1", K1)]);
        assert_eq!(
            rotated.open("n", sealed_before.clone()),
            Some(b"{}".to_vec())
        );
        let sealed_after = rotated.seal("n", b"{}").into_owned();
        assert_eq!(split(&sealed_after).unwrap().0, "k2");
        assert_eq!(
            old.open("n", sealed_after),
            None,
            "k2 is unknown to the old ring"
        );
        let dropped = sealer(&[("k2", K2)]);
        assert_eq!(dropped.open("n", sealed_before), None);
    }

    #[test]
    fn values_stored_in_clear_are_read_as_they_are_and_sealed_ones_need_keys() {
        let off = Sealer::default();
        assert!(!off.is_on());
        assert_eq!(off.seal("n", b"{}").into_owned(), b"{}");
        assert_eq!(off.open("n", b"{}".to_vec()), Some(b"{}".to_vec()));
        let on = sealer(&[("k1", K1)]);
        assert!(on.is_on());
        assert_eq!(on.open("n", b"{}".to_vec()), Some(b"{}".to_vec()));
        assert_eq!(off.open("n", on.seal("n", b"{}").into_owned()), None);
    }

    #[test]
    fn truncated_or_malformed_sealed_values_are_absent_not_a_panic() {
        let sealer = sealer(&[("k1", K1)]);
        let sealed = sealer.seal("n", b"{}").into_owned();
        for cut in MAGIC.len()..sealed.len() {
            assert_eq!(
                sealer.open("n", sealed[..cut].to_vec()),
                None,
                "cut at {cut}"
            );
        }
        let mut bad_len = sealed.clone();
        bad_len[3] = 255;
        assert_eq!(sealer.open("n", bad_len), None);
    }

    #[test]
    fn bad_keys_are_each_named_without_quoting_them() {
        let problems = Sealer::from_keys([
            ("k1", "c2hvcnQ="),
            ("k1", K1),
            ("", K2),
            ("bad id!", "not base64 at all"),
        ])
        .unwrap_err();
        let indexes: Vec<usize> = problems.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [0, 1, 2, 3, 3]);
        assert!(problems[0].1.contains("32 random bytes"));
        assert!(problems[1].1.contains("earlier key"));
        assert!(Sealer::from_keys([]).unwrap().0.is_none());
    }

    #[test]
    fn each_key_id_is_logged_once_and_only_so_many_are_remembered() {
        let sealer = sealer(&[("k1", K1)]);
        assert!(sealer.first_time("k9"));
        assert!(!sealer.first_time("k9"));
        for n in 1..MAX_LOGGED_IDS {
            assert!(sealer.first_time(&format!("x{n}")));
        }
        assert!(!sealer.first_time("one-too-many"));
        assert!(Sealer::default().first_time("k9"));
    }

    #[test]
    fn an_empty_value_seals_and_opens() {
        let sealer = sealer(&[("k1", K1)]);
        let sealed = sealer.seal("n", b"").into_owned();
        assert_eq!(sealer.open("n", sealed), Some(Vec::new()));
    }

    #[test]
    fn debug_output_names_the_key_ids_never_the_keys() {
        let on = format!("{:?}", sealer(&[("k2", K2), ("k1", K1)]));
        assert_eq!(on, r#"Sealer(keys: ["k2", "k1"])"#);
        assert_eq!(format!("{:?}", Sealer::default()), "Sealer(off)");
    }

    #[test]
    fn unknown_key_ids_are_remembered_for_logging_within_a_bound() {
        let sealer = sealer(&[("k1", K1)]);
        for n in 0..100 {
            let other = Sealer::from_keys([(format!("x{n}").as_str(), K2)]).unwrap();
            assert_eq!(sealer.open("n", other.seal("n", b"{}").into_owned()), None);
        }
        let logged = sealer.0.as_ref().unwrap().logged.lock().unwrap().len();
        assert_eq!(logged, MAX_LOGGED_IDS);
    }
}
