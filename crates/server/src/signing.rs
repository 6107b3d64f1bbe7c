//! Signed tokens: join tickets and resume tokens are a small binary payload
//! plus an HMAC-SHA256 tag under the server's secret, base64url-encoded as
//! `payload.tag`. Any node holding the same secret verifies them without
//! shared state; what must be used only once is tracked by whoever consumes
//! the token (the room for resume tokens, the ticket book for tickets).
//!
//! Tokens are credentials: never log them.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Smallest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

impl Signer {
    /// A signer with this secret (at least [`MIN_SECRET_BYTES`]).
    pub fn new(secret: &[u8]) -> Option<Signer> {
        (secret.len() >= MIN_SECRET_BYTES).then(|| Signer {
            key: secret.to_vec(),
        })
    }

    /// A signer with a fresh random 32-byte secret (tokens then only verify on this process).
    pub fn random() -> std::io::Result<Signer> {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(Signer { key })
    }

    fn mac(&self, domain: &str, payload: &[u8]) -> Hmac<Sha256> {
        // KeyInit::new_from_slice accepts any key length for HMAC.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// `base64url(payload).base64url(tag)`, the tag binding `domain` (so a
    /// ticket can never pass as a resume token or the other way round).
    pub fn sign(&self, domain: &str, payload: &[u8]) -> String {
        let tag = self.mac(domain, payload).finalize().into_bytes();
        format!("{}.{}", B64.encode(payload), B64.encode(tag))
    }

    /// The payload of a token signed by [`Signer::sign`] for `domain`, or
    /// `None` if it is malformed or its tag is wrong (checked in constant time).
    pub fn verify(&self, domain: &str, token: &str) -> Option<Vec<u8>> {
        if token.len() > 512 {
            return None;
        }
        let (payload, tag) = token.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        self.mac(domain, &payload).verify_slice(&tag).ok()?;
        Some(payload)
    }
}

impl Signer {
    /// A detached tag of `payload` for `domain`, base64url: for payloads too
    /// large to carry in a token (a room handed to another node).
    pub fn tag(&self, domain: &str, payload: &[u8]) -> String {
        B64.encode(self.mac(domain, payload).finalize().into_bytes())
    }

    /// Whether `tag` is [`Signer::tag`] of `payload` for `domain` (checked in
    /// constant time).
    pub fn check_tag(&self, domain: &str, payload: &[u8], tag: &str) -> bool {
        if tag.len() > 64 {
            return false;
        }
        B64.decode(tag)
            .is_ok_and(|tag| self.mac(domain, payload).verify_slice(&tag).is_ok())
    }
}

/// Random bytes for nonces.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // getrandom only fails if the OS has no entropy source at all; a zero nonce then still works, merely guessable.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_tags_bind_payload_domain_and_key() {
        let s = Signer::new(b"0123456789abcdef").unwrap();
        let t = s.tag("handoff", b"room");
        assert!(s.check_tag("handoff", b"room", &t));
        assert!(!s.check_tag("handoff", b"rooM", &t));
        assert!(!s.check_tag("ticket", b"room", &t));
        let other = Signer::new(b"0123456789abcdeX").unwrap();
        assert!(!other.check_tag("handoff", b"room", &t));
        assert!(!s.check_tag("handoff", b"room", "not base64!"));
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_breaks_it() {
        let s = Signer::new(b"0123456789abcdef0123").expect("long enough");
        let token = s.sign("ticket", b"room-1|123");
        assert_eq!(
            s.verify("ticket", &token).as_deref(),
            Some(&b"room-1|123"[..])
        );
        assert_eq!(s.verify("resume", &token), None, "bound to its domain");
        let other = Signer::new(b"another secret of 20b").expect("long enough");
        assert_eq!(other.verify("ticket", &token), None, "bound to the secret");
        let (payload, tag) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{tag}", B64.encode(b"room-2|123"));
        assert_eq!(s.verify("ticket", &forged), None, "payload cannot change");
        for bad in [
            "",
            ".",
            "nodot",
            &format!("{payload}."),
            &format!("{payload}.!!"),
            &"a".repeat(600),
        ] {
            assert_eq!(s.verify("ticket", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_key() {
        assert!(Signer::new(b"short").is_none());
        let s = Signer::random().expect("random");
        assert!(!format!("{s:?}").contains('['));
        assert_ne!(random_u64(), random_u64());
    }
}
