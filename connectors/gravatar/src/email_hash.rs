//! The identifier Gravatar files a profile under: the SHA-256 of the normalised email.

use sha2::{Digest, Sha256};

/// The lower-case hex SHA-256 of `email` trimmed and lower-cased, as Gravatar computes it (the
/// v3 API dropped MD5; an MD5 hash is not accepted as a profile identifier).
pub(crate) fn email_hash(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_trimmed_lower_cased_email() {
        let expected = "4c73fcbf969ed25df23853b19f5da337724a60817813a321290874293c607bde";
        for email in ["bcooper@biglytics.net", "  BCooper@Biglytics.NET\n"] {
            assert_eq!(email_hash(email), expected, "{email:?}");
        }
        assert_eq!(
            email_hash("Zoë@Example.com"),
            "5418899f7aabe5f45dd3350fe8edcf89e1763a9e64c85e529b1f68cbf5144767"
        );
        // Not MD5 (3ef16690f431896efd5b1fe35c9c7871 for this address).
        assert_eq!(email_hash("bcooper@biglytics.net").len(), 64);
    }
}
