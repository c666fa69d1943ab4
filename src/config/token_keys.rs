//! `THREELO_TOKEN_KEYS`: the key ring's material, parsed and checked. The cipher that uses it is
//! built at startup (`tokens::KeyRing::new`); configuration only holds the bytes, as secrets.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

/// One named 32-byte key.
pub struct TokenKey {
    pub id: String,
    bytes: SecretBox<[u8; 32]>,
}

impl TokenKey {
    /// The key bytes, for building the cipher.
    pub fn bytes(&self) -> &[u8; 32] {
        self.bytes.expose_secret()
    }
}

/// The ring from `kid:base64(32 bytes)[,kid:…]`: the first key seals, every key opens.
pub struct TokenKeys(Vec<TokenKey>);

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("key_ids", &self.key_ids()).finish()
    }
}

impl TokenKeys {
    /// Parses `kid:base64(32 bytes)[,kid:…]`, reporting every problem with its fix.
    pub fn parse(spec: &str) -> Result<TokenKeys, Vec<String>> {
        let mut keys: Vec<TokenKey> = Vec::new();
        let mut problems = Vec::new();
        for (index, entry) in spec.split(',').map(str::trim).enumerate() {
            let Some((id, encoded)) = entry.split_once(':') else {
                problems.push(format!(
                    "entry {} is not `kid:base64key`; generate one with `threelo gen-secret`",
                    index + 1
                ));
                continue;
            };
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                problems.push(format!("entry {}: key id must be letters, digits, - or _ (like `k1`)", index + 1));
                continue;
            }
            if keys.iter().any(|k| k.id == id) {
                problems.push(format!("key id `{id}` appears twice; each key needs its own id"));
                continue;
            }
            match STANDARD.decode(encoded.trim()).map(<[u8; 32]>::try_from) {
                Ok(Ok(bytes)) => keys.push(TokenKey { id: id.to_owned(), bytes: SecretBox::new(Box::new(bytes)) }),
                Ok(Err(bytes)) => problems.push(format!(
                    "key `{id}` decodes to {} bytes, need 32; generate one with `threelo gen-secret`",
                    bytes.len()
                )),
                Err(_) => {
                    problems.push(format!("key `{id}` is not valid base64; generate one with `threelo gen-secret`"))
                }
            }
        }
        if problems.is_empty() && keys.is_empty() {
            problems.push("no keys; generate one with `threelo gen-secret`".to_owned());
        }
        if problems.is_empty() { Ok(TokenKeys(keys)) } else { Err(problems) }
    }

    /// A ring of one fresh random key (for `threelo demo`, whose records die with the process).
    pub fn random() -> TokenKeys {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        TokenKeys(vec![TokenKey { id: "demo".to_owned(), bytes: SecretBox::new(Box::new(bytes)) }])
    }

    /// The keys, the sealing one first.
    pub fn keys(&self) -> &[TokenKey] {
        &self.0
    }

    /// Every key id, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.0.iter().map(|k| k.id.as_str()).collect()
    }
}
