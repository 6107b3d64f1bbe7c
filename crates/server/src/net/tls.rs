//! Built-in TLS for a single node (`--tls-cert`, `--tls-key`): the PEM
//! certificate chain and private key are read once at start, checked (a
//! readable file, at least one certificate, a key, the key matching the
//! certificate) and turned into a rustls server configuration on the `ring`
//! provider with ALPN `http/1.1`. Every accepted TCP connection then goes
//! through [`Tls::acceptor`] before hyper sees it (see `server.rs`).
//!
//! Certificates are not reloaded while running (no SIGHUP handling): a
//! renewed certificate takes a restart. A fleet behind a load balancer
//! terminates TLS there instead (docs/deploy.md).

use std::{path::Path, sync::Arc};

use rustls::ServerConfig;
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer,
    pem::{self, PemObject},
};
use tokio_rustls::TlsAcceptor;

use crate::{Error, Result};

/// The loaded certificate and the acceptor built from it.
#[derive(Clone)]
pub struct Tls {
    /// Wraps each accepted TCP stream in a TLS server session.
    pub acceptor: TlsAcceptor,
    /// The leaf certificate's subject CN and subject alternative names, for the log.
    pub names: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("names", &self.names).finish()
    }
}

impl Tls {
    /// Reads `cert` (PEM, the leaf first, then any intermediates) and `key`
    /// (PEM, PKCS#8, PKCS#1 or SEC1); the error names the file and what is wrong.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls> {
        let fail = |msg: String| Error::Config(msg);
        let cert_pem = std::fs::read(cert)
            .map_err(|e| fail(format!("--tls-cert {}: unreadable: {e}", cert.display())))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<std::result::Result<Vec<_>, pem::Error>>()
            .map_err(|e| fail(format!("--tls-cert {}: bad PEM: {e}", cert.display())))?;
        if certs.is_empty() {
            return Err(fail(format!(
                "--tls-cert {}: no certificate (expected a PEM \"BEGIN CERTIFICATE\" block)",
                cert.display()
            )));
        }
        let key_pem = std::fs::read(key)
            .map_err(|e| fail(format!("--tls-key {}: unreadable: {e}", key.display())))?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            pem::Error::NoItemsFound => fail(format!(
                "--tls-key {}: no private key (expected a PEM \"BEGIN PRIVATE KEY\", \
                 \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
                key.display()
            )),
            e => fail(format!("--tls-key {}: bad PEM: {e}", key.display())),
        })?;
        let names = cert_names(&certs[0]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key_der)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => fail(format!(
                    "--tls-key {} does not match the certificate in --tls-cert {}",
                    key.display(),
                    cert.display()
                )),
                e => fail(format!(
                    "--tls-cert {} / --tls-key {}: {e}",
                    cert.display(),
                    key.display()
                )),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            names,
        })
    }
}

/// `CN=<subject CN> SAN=<dns and ip names>` of a DER certificate, as far as a
/// small DER walk finds them (`?` where it does not): for the log line only.
fn cert_names(cert: &[u8]) -> String {
    let (cn, sans) = der::names(cert).unwrap_or_default();
    let cn = cn.unwrap_or_else(|| "?".to_owned());
    let sans = if sans.is_empty() {
        "-".to_owned()
    } else {
        sans.join(",")
    };
    format!("CN={cn} SAN={sans}")
}

/// Just enough DER to read a certificate's subject CN and its SAN entries.
mod der {
    /// One TLV: (tag, contents, rest after it).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&len0, mut b) = b.split_first()?;
        let len = if len0 < 0x80 {
            usize::from(len0)
        } else {
            let n = usize::from(len0 & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let len = b[..n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            b = &b[n..];
            len
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }

    /// Iterates the TLVs of a constructed value's contents.
    fn items(mut b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
        std::iter::from_fn(move || {
            let (tag, v, rest) = tlv(b)?;
            b = rest;
            Some((tag, v))
        })
    }

    const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
    const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

    /// (subject CN, SAN dNSName and iPAddress entries).
    pub(super) fn names(cert: &[u8]) -> Option<(Option<String>, Vec<String>)> {
        let (_, cert, _) = tlv(cert)?;
        let (_, tbs, _) = tlv(cert)?;
        let mut fields = items(tbs).peekable();
        // [0] version is optional; then serial, signature, issuer, validity, subject.
        if fields.peek()?.0 == 0xa0 {
            fields.next();
        }
        let (_, subject) = fields.nth(4)?;
        let cn = items(subject).find_map(|(_, rdn)| {
            items(rdn).find_map(|(_, atv)| {
                let mut parts = items(atv);
                let (_, oid) = parts.next()?;
                let (_, value) = parts.next()?;
                (oid == OID_CN).then(|| String::from_utf8_lossy(value).into_owned())
            })
        });
        let mut sans = Vec::new();
        for (tag, v) in fields {
            if tag != 0xa3 {
                continue;
            }
            let (_, exts, _) = tlv(v)?;
            for (_, ext) in items(exts) {
                let mut parts = items(ext);
                let Some((_, oid)) = parts.next() else {
                    continue;
                };
                if oid != OID_SAN {
                    continue;
                }
                // An optional `critical` BOOLEAN, then the OCTET STRING.
                let Some((_, value)) = parts.find(|(t, _)| *t == 0x04) else {
                    continue;
                };
                let (_, names, _) = tlv(value)?;
                for (tag, name) in items(names) {
                    match (tag, name.len()) {
                        (0x82, _) => sans.push(String::from_utf8_lossy(name).into_owned()),
                        (0x87, 4) => sans.push(
                            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(name).ok()?).to_string(),
                        ),
                        (0x87, 16) => sans.push(
                            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(name).ok()?).to_string(),
                        ),
                        _ => {}
                    }
                }
            }
        }
        Some((cn, sans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, names: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
        let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .expect("self-signed certificate");
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tickroom-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn loads_a_pair_and_names_it() {
        let dir = temp_dir("ok");
        let (cert, key) = write_pair(&dir, &["localhost", "127.0.0.1"]);
        let tls = Tls::load(&cert, &key).expect("loads");
        assert_eq!(
            tls.names, "CN=rcgen self signed cert SAN=localhost,127.0.0.1",
            "the log names"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_the_fault() {
        let dir = temp_dir("bad");
        let (cert, key) = write_pair(&dir, &["localhost"]);
        let other = temp_dir("bad-other");
        let (_, other_key) = write_pair(&other, &["localhost"]);
        let missing = dir.join("missing.pem");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let cases = [
            (&missing, &key, "--tls-cert", "unreadable"),
            (&cert, &missing, "--tls-key", "unreadable"),
            (&empty, &key, "--tls-cert", "no certificate"),
            (&cert, &empty, "--tls-key", "no private key"),
            (&cert, &other_key, "--tls-key", "does not match"),
        ];
        for (c, k, flag, fault) in cases {
            let err = Tls::load(c, k).expect_err(fault).to_string();
            assert!(err.contains(flag) && err.contains(fault), "{err}");
        }
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(other);
    }
}
