//! The certificate files of `cache.tls`: the CA that signs the Redis servers' certificates
//! (else the system's roots) and a client certificate for mutual TLS. Read and checked once,
//! when the configuration is validated: a file that cannot be read or holds no PEM certificate
//! (or key) is a configuration problem naming its key, never a failure at the first request.
//! Their contents are never printed.

use std::path::Path;

use redis::{Client, ClientTlsConfig, TlsCertificates};

use super::RedisError;

/// The TLS material for `rediss://` connections; empty means the system's roots, no client
/// certificate.
#[derive(Clone, Default)]
pub struct TlsFiles {
    ca: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.as_ref().map(|_| "***"))
            .field("client", &self.client.as_ref().map(|_| "***"))
            .finish()
    }
}

impl TlsFiles {
    /// Read the files; every problem is returned as (key, message) under `cache.tls`.
    pub fn load(
        ca_file: Option<&Path>,
        cert_file: Option<&Path>,
        key_file: Option<&Path>,
    ) -> Result<TlsFiles, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let mut read = |key: &'static str, path: Option<&Path>, marker: &str, what: &str| {
            let path = path?;
            match std::fs::read(path) {
                Ok(bytes) if contains(&bytes, marker) => Some(bytes),
                Ok(_) => {
                    problems.push((key, format!("`{}` holds no PEM {what}", path.display())));
                    None
                }
                Err(err) => {
                    problems.push((key, format!("cannot read `{}`: {err}", path.display())));
                    None
                }
            }
        };
        let ca = read(
            "ca_file",
            ca_file,
            "-----BEGIN CERTIFICATE-----",
            "certificate",
        );
        let cert = read(
            "cert_file",
            cert_file,
            "-----BEGIN CERTIFICATE-----",
            "certificate",
        );
        let key = read("key_file", key_file, "PRIVATE KEY-----", "private key");
        if cert_file.is_some() != key_file.is_some() {
            problems.push((
                if cert_file.is_some() {
                    "key_file"
                } else {
                    "cert_file"
                },
                "a client certificate needs both cert_file and key_file".into(),
            ));
        }
        let files = TlsFiles {
            ca,
            client: cert.zip(key),
        };
        // The redis crate parses them as it will on connecting: a malformed PEM fails here.
        if problems.is_empty()
            && let Err(err) = files.client("rediss://127.0.0.1:6379")
        {
            problems.push(("ca_file", format!("the certificates cannot be used: {err}")));
        }
        if problems.is_empty() {
            Ok(files)
        } else {
            Err(problems)
        }
    }

    /// Whether anything beyond the system's roots is configured.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.client.is_none()
    }

    /// The certificates in the redis crate's form, when any are configured.
    pub(super) fn certificates(&self) -> Result<Option<TlsCertificates>, RedisError> {
        if self.is_empty() {
            return Ok(None);
        }
        Ok(Some(TlsCertificates {
            client_tls: self
                .client
                .clone()
                .map(|(client_cert, client_key)| ClientTlsConfig {
                    client_cert,
                    client_key,
                }),
            root_cert: self.ca.clone(),
        }))
    }

    /// A client of `url`: with these certificates when it is `rediss://`.
    pub(super) fn client(&self, url: &str) -> Result<Client, RedisError> {
        match self.certificates()? {
            Some(certificates) if url.trim_start().starts_with("rediss://") => {
                Ok(Client::build_with_tls(url, certificates)?)
            }
            _ => Ok(Client::open(url)?),
        }
    }
}

fn contains(bytes: &[u8], marker: &str) -> bool {
    bytes
        .windows(marker.len())
        .any(|window| window == marker.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::with(text)
    }

    mod tempfile_path {
        pub struct TempFile(pub std::path::PathBuf);

        impl TempFile {
            pub fn with(text: &str) -> TempFile {
                let path =
                    std::env::temp_dir().join(format!("enrichd-tls-{}.pem", uuid::Uuid::new_v4()));
                std::fs::write(&path, text).unwrap();
                TempFile(path)
            }
        }

        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn nothing_configured_is_the_system_roots() {
        let files = TlsFiles::load(None, None, None).unwrap();
        assert!(files.is_empty());
        assert!(files.certificates().unwrap().is_none());
        assert!(files.client("rediss://127.0.0.1:6379").is_ok());
    }

    #[test]
    fn unreadable_empty_and_half_configured_files_are_named() {
        let empty = file("not a certificate");
        let problems = TlsFiles::load(Some(Path::new("/nonexistent/ca.pem")), Some(&empty.0), None)
            .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["ca_file", "cert_file", "key_file"]);
        assert!(problems[0].1.contains("cannot read"), "{problems:?}");
        assert!(
            problems[1].1.contains("holds no PEM certificate"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_malformed_certificate_is_refused_without_showing_it() {
        let broken =
            file("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
        let problems = TlsFiles::load(Some(&broken.0), None, None).unwrap_err();
        assert_eq!(problems[0].0, "ca_file");
        assert!(!problems[0].1.contains("not base64"), "{problems:?}");
    }

    #[test]
    fn secrets_do_not_print() {
        let files = TlsFiles {
            ca: Some(b"ca".to_vec()),
            client: Some((b"cert".to_vec(), b"key".to_vec())),
        };
        assert_eq!(
            format!("{files:?}"),
            r#"TlsFiles { ca: Some("***"), client: Some("***") }"#
        );
    }
}
