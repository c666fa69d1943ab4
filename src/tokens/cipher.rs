//! AES-256-GCM sealing under a key ring. Knows nothing of tokens or sessions: it seals bytes with
//! associated data and says which key opened them.
//!
//! Sealed form: `<kid>.<base64url(nonce || ciphertext+tag)>`. The key id travels with the
//! ciphertext so that any key of the ring can open what it sealed; the first key seals.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::TokenKeys;

const NONCE_LEN: usize = 12;

/// A named key. The key bytes live only inside the cipher instance.
struct RingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The ring of token keys from `THREELO_TOKEN_KEYS`: the first seals, every one opens.
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

/// Why a sealed value could not be opened. None of these may become a 500: they mean "sign in again".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the value is not in the sealed format")]
    Malformed,
    #[error("sealed under key `{0}`, which is no longer in THREELO_TOKEN_KEYS")]
    UnknownKey(String),
    #[error("authentication failed: tampered, or sealed for another record")]
    Forged,
}

/// What opening produced, and whether it should be resealed under the active key.
pub struct Opened {
    pub plaintext: Vec<u8>,
    pub sealed_with_active_key: bool,
}

impl KeyRing {
    /// The cipher for the configured keys (never empty: `TokenKeys` guarantees a key).
    pub fn new(keys: &TokenKeys) -> KeyRing {
        let keys = keys
            .keys()
            .iter()
            .map(|k| RingKey { id: k.id.clone(), cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.bytes())) })
            .collect();
        KeyRing { keys }
    }

    /// Parses a key ring spec (see `TokenKeys::parse`) straight into a cipher.
    pub fn parse(spec: &str) -> Result<KeyRing, Vec<String>> {
        TokenKeys::parse(spec).map(|keys| KeyRing::new(&keys))
    }

    /// Seals `plaintext`, binding `aad` (which must be given again to open).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let key = self.keys.first().ok_or(SealError)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = key.cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).map_err(|_| SealError)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{}.{}", key.id, URL_SAFE_NO_PAD.encode(blob)))
    }

    /// Opens a value sealed by any key of the ring with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Opened, OpenError> {
        let (id, encoded) = sealed.split_once('.').ok_or(OpenError::Malformed)?;
        let position = self.keys.iter().position(|k| k.id == id).ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let blob = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| OpenError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plaintext = self.keys[position]
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| OpenError::Forged)?;
        Ok(Opened { plaintext, sealed_with_active_key: position == 0 })
    }
}

/// Encryption itself failed (practically impossible with a valid key; never shown to users).
#[derive(Debug, thiserror::Error)]
#[error("sealing failed")]
pub struct SealError;

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn ring(spec: &str) -> KeyRing {
        KeyRing::parse(spec).unwrap()
    }

    #[test]
    fn sealed_value_opens_with_the_same_aad() {
        let ring = ring(&format!("k1:{}", key(1)));
        let sealed = ring.seal(b"secret", b"record-1").unwrap();
        assert!(sealed.starts_with("k1."));
        assert!(!sealed.contains("secret"));
        let opened = ring.open(&sealed, b"record-1").unwrap();
        assert_eq!(opened.plaintext, b"secret");
        assert!(opened.sealed_with_active_key);
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let ring = ring(&format!("k1:{}", key(1)));
        assert_ne!(ring.seal(b"x", b"a").unwrap(), ring.seal(b"x", b"a").unwrap());
    }

    #[test]
    fn wrong_aad_is_rejected() {
        let ring = ring(&format!("k1:{}", key(1)));
        let sealed = ring.seal(b"secret", b"record-1").unwrap();
        assert_eq!(ring.open(&sealed, b"record-2").err(), Some(OpenError::Forged));
    }

    #[test]
    fn a_flipped_bit_is_rejected() {
        let ring = ring(&format!("k1:{}", key(1)));
        let sealed = ring.seal(b"secret", b"aad").unwrap();
        let (id, body) = sealed.split_once('.').unwrap();
        let mut blob = URL_SAFE_NO_PAD.decode(body).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let tampered = format!("{id}.{}", URL_SAFE_NO_PAD.encode(blob));
        assert_eq!(ring.open(&tampered, b"aad").err(), Some(OpenError::Forged));
        assert_eq!(ring.open("k1.!!", b"aad").err(), Some(OpenError::Malformed));
        assert_eq!(ring.open("no-dot", b"aad").err(), Some(OpenError::Malformed));
        assert_eq!(ring.open("k1.AAAA", b"aad").err(), Some(OpenError::Malformed));
    }

    #[test]
    fn an_unknown_key_id_is_reported() {
        let old = ring(&format!("old:{}", key(1)));
        let new = ring(&format!("new:{}", key(2)));
        let sealed = old.seal(b"secret", b"aad").unwrap();
        assert_eq!(new.open(&sealed, b"aad").err(), Some(OpenError::UnknownKey("old".into())));
    }

    #[test]
    fn a_new_first_key_seals_while_old_keys_still_open() {
        let before = ring(&format!("k1:{}", key(1)));
        let sealed_before = before.seal(b"secret", b"aad").unwrap();
        let after = ring(&format!("k2:{},k1:{}", key(2), key(1)));
        let opened = after.open(&sealed_before, b"aad").unwrap();
        assert_eq!(opened.plaintext, b"secret");
        assert!(!opened.sealed_with_active_key, "old records must be flagged for resealing");
        assert!(after.seal(b"x", b"aad").unwrap().starts_with("k2."));
    }

    #[test]
    fn a_key_of_the_wrong_length_names_the_fix() {
        let problems = KeyRing::parse(&format!("k1:{},k2:nope!,bad", STANDARD.encode([0u8; 16]))).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("`k1` decodes to 16 bytes, need 32"));
        assert!(problems[0].contains("threelo gen-secret"));
    }
}
