//! Sign-ins in progress, kept in the browser: a visitor who is not signed in costs nothing on the
//! server (no Redis key) until Atlassian's callback succeeds.
//!
//! One small cookie holds up to [`MAX_PENDING`] sign-ins (several tabs at once), each a hash of
//! its `state`, where to land and when it began. It is sealed (AES-256-GCM through the cookie
//! crate's private jar, which also binds the cookie's name) under a key derived from the session
//! secret for this purpose alone, lives ten minutes, and each entry works once: the callback
//! removes it. Without the sealing, a visitor could plant a `return_to` or a state of their own.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::access_keys::KeyRequest;
use crate::clock::unix_now;
use crate::config::Settings;

/// A sign-in in progress lives this long (Atlassian's codes are short-lived too).
pub const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// At most this many sign-ins may be in progress in one browser (several tabs).
pub const MAX_PENDING: usize = 5;
/// What the sealed cookie may weigh, well inside browsers' 4 KiB per cookie.
const MAX_COOKIE_BYTES: usize = 3000;

/// One sign-in started by `/auth/login`. Only a hash of `state` is kept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub state_sha256: String,
    pub return_to: String,
    pub created_at: i64,
    /// Set when this consent is for an access key, not a sign-in: the callback then makes the
    /// key and leaves the browser's session as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRequest>,
}

impl Pending {
    /// A sign-in bound to `state`, begun now.
    pub fn new(state: &str, return_to: &str) -> Pending {
        Pending { state_sha256: hash(state), return_to: return_to.to_owned(), created_at: unix_now(), key: None }
    }

    /// The consent for access key `key`, bound to `state`, begun now.
    pub fn for_key(state: &str, return_to: &str, key: KeyRequest) -> Pending {
        Pending { key: Some(key), ..Pending::new(state, return_to) }
    }
}

fn hash(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

/// Reads and writes the sign-in cookie.
#[derive(Clone)]
pub struct SignIns {
    key: Key,
    name: &'static str,
    path: String,
    secure: bool,
}

impl std::fmt::Debug for SignIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIns").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SignIns {
    /// The cookie for `settings`' public URL, sealed under a key derived from the session secret.
    pub fn new(settings: &Settings) -> SignIns {
        let mut material = Sha512::new();
        material.update(b"threelo: the key of the sign-ins-in-progress cookie, v1\0");
        material.update(settings.session_secret_bytes());
        let public = &settings.public_url;
        let at_root = public.prefix().is_empty();
        SignIns {
            key: Key::from(material.finalize().as_slice()),
            name: if public.is_https() && at_root { "__Host-threelo-signin" } else { "threelo-signin" },
            path: if at_root { "/".to_owned() } else { public.prefix().to_owned() },
            secure: public.is_https(),
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The sign-ins in progress this request carries: unexpired ones only; a cookie that does not
    /// open (tampered, another secret, junk) carries none.
    pub fn read(&self, req: &HttpRequest) -> Vec<Pending> {
        let Some(cookie) = req.cookie(self.name) else { return Vec::new() };
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        let Some(opened) = jar.private(&self.key).get(self.name) else { return Vec::new() };
        let mut pending: Vec<Pending> = serde_json::from_str(opened.value()).unwrap_or_default();
        let now = unix_now();
        pending.retain(|p| p.created_at <= now && now - p.created_at <= PENDING_TTL.as_secs() as i64);
        pending
    }

    /// The cookie that adds `new` to `pending`, dropping the oldest beyond the cap (or the size).
    pub fn add(&self, mut pending: Vec<Pending>, new: Pending) -> Cookie<'static> {
        pending.push(new);
        if pending.len() > MAX_PENDING {
            pending.drain(..pending.len() - MAX_PENDING);
        }
        loop {
            let cookie = self.seal(&pending);
            if cookie.value().len() <= MAX_COOKIE_BYTES || pending.len() == 1 {
                return cookie;
            }
            pending.remove(0);
        }
    }

    /// Takes the sign-in bound to `state` out of `pending` (compared in constant time): where it
    /// lands, and the cookie that remembers the rest.
    pub fn take(&self, pending: Vec<Pending>, state: &str) -> (Option<String>, Cookie<'static>) {
        let (found, cookie) = self.take_entry(pending, state);
        (found.map(|entry| entry.return_to), cookie)
    }

    /// Like [`SignIns::take`], with the whole entry (a key's consent carries its request).
    pub fn take_entry(&self, mut pending: Vec<Pending>, state: &str) -> (Option<Pending>, Cookie<'static>) {
        let wanted = hash(state);
        let mut found = None;
        for (index, entry) in pending.iter().enumerate() {
            if bool::from(entry.state_sha256.as_bytes().ct_eq(wanted.as_bytes())) {
                found = Some(index);
            }
        }
        let entry = found.map(|index| pending.remove(index));
        let cookie = if pending.is_empty() { self.removal() } else { self.seal(&pending) };
        (entry, cookie)
    }

    /// The cookie holding `pending`, sealed.
    pub fn seal(&self, pending: &[Pending]) -> Cookie<'static> {
        let json = serde_json::to_string(pending).unwrap_or_else(|_| "[]".to_owned());
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(self.attributes(Cookie::new(self.name, json)));
        jar.get(self.name).cloned().unwrap_or_else(|| self.removal())
    }

    fn attributes(&self, mut cookie: Cookie<'static>) -> Cookie<'static> {
        cookie.set_path(self.path.clone());
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        // Lax, not Strict: the callback is a top-level navigation from Atlassian's site.
        cookie.set_same_site(SameSite::Lax);
        cookie.set_max_age(CookieDuration::seconds(PENDING_TTL.as_secs() as i64));
        cookie
    }

    /// The cookie that deletes the sign-in cookie.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = self.attributes(Cookie::new(self.name, ""));
        cookie.make_removal();
        cookie
    }
}
