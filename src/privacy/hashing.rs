//! Keyed hashes of identifiers (HMAC-SHA-256 under `privacy.hash_key`, aws-lc-rs): how
//! suppressions and the audit trail name a user, an email, a phone or a handle without
//! holding it. Without the key a hash cannot be computed, so a stolen list of them cannot be
//! checked against a list of emails.
//!
//! Identifiers are normalised first, so that `Ada@Example.com ` and `ada@example.com` are one
//! identifier: emails trimmed and lower-cased, phones as E.164 (as requests carry them),
//! handles trimmed, without a leading `@`, lower-cased (GitHub logins, X handles and Mastodon
//! accounts are case-insensitive), user ids verbatim. The tenant is hashed in: one tenant's
//! suppressions never match another's subjects.

use std::{fmt, sync::Arc};

use aws_lc_rs::hmac;
use base64::Engine as _;
use enrichd_sdk::Subject;

use crate::domain::Tenant;

/// A keyed hash.
pub type Hash = [u8; 32];

/// Computes keyed hashes. Cheap to clone; prints no key.
#[derive(Clone)]
pub struct KeyedHasher(Arc<hmac::Key>);

impl fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHasher(***)")
    }
}

impl KeyedHasher {
    /// The hasher of a key given as 32 bytes of base64; the error never quotes the key.
    pub fn from_base64(text: &str) -> Result<KeyedHasher, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not valid base64".to_owned())?;
        if bytes.len() != 32 {
            return Err(format!(
                "must be 32 bytes of base64 (e.g. `openssl rand -base64 32`), not {}",
                bytes.len()
            ));
        }
        Ok(KeyedHasher(Arc::new(hmac::Key::new(
            hmac::HMAC_SHA256,
            &bytes,
        ))))
    }

    /// A hasher with a random key (the demo's: its suppressions last as long as it runs).
    pub fn generate() -> KeyedHasher {
        let random = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &random)
            .expect("the operating system's random generator works");
        KeyedHasher(Arc::new(key))
    }

    /// The hash of one identifier (as [`identifiers`] writes it) of `tenant`.
    pub fn hash(&self, tenant: &Tenant, identifier: &str) -> Hash {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(tenant.as_str().as_bytes());
        context.update(b"\n");
        context.update(identifier.as_bytes());
        let tag = context.sign();
        let mut hash = [0; 32];
        hash.copy_from_slice(tag.as_ref());
        hash
    }

    /// The hashes of every identifier of `subject`, its user id first.
    pub fn hashes(&self, tenant: &Tenant, subject: &Subject) -> Vec<Hash> {
        identifiers(subject)
            .iter()
            .map(|identifier| self.hash(tenant, identifier))
            .collect()
    }
}

/// Every identifier of `subject`, normalised and tagged with its kind: `user_id:u-42`,
/// `email:ada@example.com`, `phone:+442071838750`, `handle:github:ada`. An empty user id (a
/// subject built only to name identifiers) is left out.
pub fn identifiers(subject: &Subject) -> Vec<String> {
    let mut found = Vec::with_capacity(3 + subject.handles.len());
    if !subject.user_id.is_empty() {
        found.push(format!("user_id:{}", subject.user_id));
    }
    if let Some(email) = &subject.email {
        found.push(format!("email:{}", email.trim().to_lowercase()));
    }
    if let Some(phone) = &subject.phone {
        found.push(format!("phone:{}", phone.trim()));
    }
    for (platform, handle) in &subject.handles {
        let handle = handle.trim();
        let handle = handle.strip_prefix('@').unwrap_or(handle);
        found.push(format!("handle:{platform}:{}", handle.to_lowercase()));
    }
    found
}

/// How the audit trail names one identifier: its kind and its hash, `user:<hex>`,
/// `email:<hex>`, `phone:<hex>`, `handle.github:<hex>`.
pub fn label(identifier: &str, hash: &Hash) -> String {
    let kind = match identifier.split(':').collect::<Vec<_>>().as_slice() {
        ["handle", platform, ..] => format!("handle.{platform}"),
        ["user_id", ..] => "user".to_owned(),
        [kind, ..] => (*kind).to_owned(),
        [] => String::new(),
    };
    format!("{kind}:{}", to_hex(hash))
}

/// A hash as text (lowercase hex), as events and the audit trail carry it.
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// A hash read back from text written by [`to_hex`] (lowercase only); anything else is `None`.
pub fn from_hex(text: &str) -> Option<Hash> {
    let mut hash = [0; 32];
    let lowercase = !text.bytes().any(|b| b.is_ascii_uppercase());
    (lowercase && hex::decode_to_slice(text, &mut hash).is_ok()).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> KeyedHasher {
        KeyedHasher::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
            .unwrap()
    }

    #[test]
    fn identifiers_are_normalised_before_hashing() {
        let subject = Subject::new("u-42")
            .with_email(" Ada@Example.COM ")
            .with_phone("+442071838750")
            .with_handle("github", "@Octo_Cat")
            .with_handle("mastodon", "@Ada@Mastodon.Social");
        assert_eq!(
            identifiers(&subject),
            [
                "user_id:u-42",
                "email:ada@example.com",
                "phone:+442071838750",
                "handle:github:octo_cat",
                "handle:mastodon:ada@mastodon.social",
            ]
        );
        let same = Subject::new("u-42")
            .with_email("ada@example.com")
            .with_handle("github", "octo_cat");
        let tenant = Tenant::default();
        let hashes = hasher().hashes(&tenant, &subject);
        let others = hasher().hashes(&tenant, &same);
        assert_eq!(hashes[1], others[1], "the same email");
        assert_eq!(hashes[3], others[2], "the same GitHub login");
        assert!(identifiers(&Subject::new("")).is_empty());
    }

    #[test]
    fn hashes_depend_on_the_key_the_tenant_and_the_kind() {
        let default = Tenant::default();
        let marketing = Tenant::parse("marketing").unwrap();
        let one = hasher().hash(&default, "email:ada@example.com");
        assert_eq!(one, hasher().hash(&default, "email:ada@example.com"));
        assert_ne!(one, hasher().hash(&marketing, "email:ada@example.com"));
        assert_ne!(one, hasher().hash(&default, "user_id:ada@example.com"));
        let other_key =
            KeyedHasher::from_base64(&base64::engine::general_purpose::STANDARD.encode([8u8; 32]))
                .unwrap();
        assert_ne!(one, other_key.hash(&default, "email:ada@example.com"));
    }

    #[test]
    fn hashes_are_plain_hmac_sha256_as_the_readme_computes_them_with_openssl() {
        // README, "Audit trail": printf 'default\nuser_id:u-42' | openssl dgst -sha256 -mac HMAC
        let hasher =
            KeyedHasher::from_base64("cHJpdmFjeS10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=").unwrap();
        assert_eq!(
            to_hex(&hasher.hash(&Tenant::default(), "user_id:u-42")),
            "481ff53e53974deb4b2fd166d04f61d50c229a1b22b91964e9bd03476d9f2486"
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_are_never_quoted() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        let err = KeyedHasher::from_base64(&short).unwrap_err();
        assert!(err.contains("32 bytes") && err.contains("16"), "{err}");
        assert!(!err.contains(&short));
        assert!(KeyedHasher::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", hasher()), "KeyedHasher(***)");
        let (one, two) = (KeyedHasher::generate(), KeyedHasher::generate());
        assert_ne!(
            one.hash(&Tenant::default(), "x"),
            two.hash(&Tenant::default(), "x")
        );
    }

    #[test]
    fn labels_name_the_kind_and_never_the_value() {
        let hash = [0xCD; 32];
        let hex = "cd".repeat(32);
        assert_eq!(label("user_id:u-42", &hash), format!("user:{hex}"));
        assert_eq!(
            label("email:ada@example.com", &hash),
            format!("email:{hex}")
        );
        assert_eq!(
            label("handle:github:ada", &hash),
            format!("handle.github:{hex}")
        );
    }

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let hash = hasher().hash(&Tenant::default(), "user_id:u-1");
        let text = to_hex(&hash);
        assert_eq!(text.len(), 64);
        assert_eq!(from_hex(&text), Some(hash));
        assert_eq!(to_hex(&[0xAB; 32]), "ab".repeat(32));
        for bad in [
            "",
            "ab",
            &"AB".repeat(32),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }
}
