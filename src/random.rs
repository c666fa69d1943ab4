//! Unguessable values: sign-in states, CSRF tokens, lease holders.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Random URL-safe text with `bytes` bytes of entropy (from the operating system's CSPRNG,
/// through `rand`'s thread-local generator, which it seeds and reseeds).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}
