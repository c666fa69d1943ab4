//! The in-memory stores (`threelo demo`) and the Redis stores pass the same tests.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_session::storage::{SessionKey, SessionStore};
use actix_web::cookie::time::Duration as CookieDuration;
use secrecy::{ExposeSecret, SecretString};
use support::RedisServer;
use threelo::atlassian::TokenSet;
use threelo::config::{RedisUrl, random_b64};
use threelo::session::{KvSessionStore, SessionKeys};
use threelo::store::{Kv, redis_pool};
use threelo::tokens::{KeyRing, TokenError, TokenStore};

/// Both backends, each with what keeps it alive.
async fn backends() -> Vec<(&'static str, Kv, KvSessionStore, Option<RedisServer>)> {
    let redis = RedisServer::start();
    let redis_kv = Kv::Redis(redis_pool(&RedisUrl::parse(&redis.url()).unwrap()).unwrap());
    let memory_kv = Kv::memory();
    vec![
        ("redis", redis_kv.clone(), KvSessionStore::new(redis_kv, SessionKeys::new(&[7; 64])), Some(redis)),
        ("memory", memory_kv.clone(), KvSessionStore::new(memory_kv, SessionKeys::new(&[7; 64])), None),
    ]
}

#[tokio::test]
async fn key_values_are_set_read_expired_and_deleted_alike() {
    for (name, kv, _, _redis) in backends().await {
        kv.ping().await.unwrap();
        assert_eq!(kv.get("t:a").await.unwrap(), None, "{name}");
        kv.set_ex("t:a", "1", Duration::from_secs(60)).await.unwrap();
        assert_eq!(kv.get("t:a").await.unwrap().as_deref(), Some("1"), "{name}");
        kv.set_ex("t:short", "x", Duration::from_secs(1)).await.unwrap();
        kv.del("t:a").await.unwrap();
        kv.del("t:never-there").await.unwrap();
        assert_eq!(kv.get("t:a").await.unwrap(), None, "{name}");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(kv.get("t:short").await.unwrap(), None, "{name}: expired");
    }
}

fn state(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn sessions_are_saved_loaded_updated_and_deleted_alike() {
    let ttl = CookieDuration::seconds(60);
    for (name, _, store, _redis) in backends().await {
        let key = store.save(state(&[("a", "\"1\"")]), &ttl).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(state(&[("a", "\"1\"")])), "{name}");
        let same = store.update(key, state(&[("a", "\"2\"")]), &ttl).await.unwrap();
        assert_eq!(store.load(&same).await.unwrap(), Some(state(&[("a", "\"2\"")])), "{name}");
        store.update_ttl(&same, &ttl).await.unwrap();
        store.delete(&same).await.unwrap();
        assert_eq!(store.load(&same).await.unwrap(), None, "{name}");

        let unknown = SessionKey::try_from(random_b64(48).replace(['+', '/', '='], "x")).unwrap();
        assert_eq!(store.load(&unknown).await.unwrap(), None, "{name}: unknown key");
        let fresh = store.update(unknown, state(&[("b", "\"3\"")]), &ttl).await.unwrap();
        assert_eq!(
            store.load(&fresh).await.unwrap(),
            Some(state(&[("b", "\"3\"")])),
            "{name}: an expired key gets a new one"
        );
    }
}

#[tokio::test]
async fn a_signed_in_session_is_read_with_its_token_record_which_is_never_written_back() {
    let ttl = CookieDuration::seconds(60);
    for (name, kv, store, _redis) in backends().await {
        let record = uuid::Uuid::new_v4();
        let data = threelo::session::SessionData {
            user: threelo::session::User {
                account_id: "acc".to_owned(),
                name: "A".to_owned(),
                email: None,
                avatar_url: None,
            },
            token_record: record,
            sites: Vec::new(),
            sites_checked_at: 0,
            csrf: "c".repeat(43),
            created_at: 1,
            last_seen: 1,
        };
        let signed_in = threelo::session::signed_in_state(&data).unwrap();
        let key = store.save(signed_in.clone(), &ttl).await.unwrap();
        assert!(key.as_ref().starts_with(&format!("{}.", record.simple())), "{name}: the key names the record");
        // No record stored yet: the state says so (no second read needed).
        let alone = store.load(&key).await.unwrap().unwrap();
        assert!(alone["prefetched_token_record"].contains("\"sealed\":null"), "{name}: {alone:?}");
        kv.set_ex(&TokenStore::key(record), "7:sealed", Duration::from_secs(60)).await.unwrap();
        let loaded = store.load(&key).await.unwrap().unwrap();
        let prefetched = loaded.get("prefetched_token_record").expect("the record came along");
        assert!(prefetched.contains("7:sealed") && prefetched.contains(&record.to_string()), "{name}: {prefetched}");
        let same = store.update(key, loaded, &ttl).await.unwrap();
        let raw = kv.get(&format!("threelo:session:{}", same.as_ref())).await.unwrap().unwrap();
        assert!(!raw.contains("prefetched") && !raw.contains("sealed"), "{name}: never stored: {raw}");
    }
}

#[tokio::test]
async fn unreadable_session_state_reads_as_no_session() {
    for (name, kv, store, _redis) in backends().await {
        let key = store.save(state(&[("a", "\"1\"")]), &CookieDuration::seconds(60)).await.unwrap();
        kv.set_ex(&format!("threelo:session:{}", key.as_ref()), "not json", Duration::from_secs(60)).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn token_records_are_sealed_opened_and_deleted_alike() {
    let ring = Arc::new(KeyRing::parse(&format!("k1:{}", random_b64(32))).unwrap());
    for (name, kv, _, _redis) in backends().await {
        let tokens = TokenStore::new(kv.clone(), ring.clone(), Duration::from_secs(60));
        let set = TokenSet {
            access_token: SecretString::from("plain-access-token"),
            refresh_token: Some(SecretString::from("plain-refresh-token")),
            expires_at: 2_000_000_000,
            scopes: vec!["read:me".into()],
        };
        let id = tokens.create("acct", set, 7).await.unwrap();
        let stored = kv.get(&TokenStore::key(id)).await.unwrap().unwrap();
        assert!(!stored.contains("plain-"), "{name}: {stored}");
        let record = tokens.load(id, "acct").await.unwrap();
        assert_eq!(record.tokens.access_token.expose_secret(), "plain-access-token", "{name}");
        assert!(matches!(tokens.load(id, "someone-else").await, Err(TokenError::Unusable(_))), "{name}");
        tokens.delete(id).await.unwrap();
        assert!(matches!(tokens.load(id, "acct").await, Err(TokenError::Unusable(_))), "{name}");
    }
}

#[tokio::test]
async fn a_stopped_redis_is_a_quick_unavailable_error_not_a_hang() {
    let mut redis = RedisServer::start();
    let kv = Kv::Redis(redis_pool(&RedisUrl::parse(&redis.url()).unwrap()).unwrap());
    kv.ping().await.unwrap();
    redis.stop();
    assert!(kv.get("x").await.is_err());
    let refused_at_once = std::time::Instant::now();
    assert!(kv.ping().await.is_err());
    assert!(refused_at_once.elapsed() < Duration::from_millis(500), "the circuit answers at once");
    redis.restart();
    // The circuit leaves Redis alone for a moment after a failure, then one call probes it.
    let back = std::time::Instant::now();
    while kv.ping().await.is_err() {
        assert!(back.elapsed() < Duration::from_secs(5), "recovered within 5 s of Redis answering");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn hashes_and_conditional_writes_behave_alike() {
    let minute = Duration::from_secs(60);
    for (name, kv, _, _redis) in backends().await {
        kv.hset_ex("t:h", "a", "1", minute).await.unwrap();
        kv.hset_ex("t:h", "b", "2", minute).await.unwrap();
        let mut fields = kv.hgetall("t:h").await.unwrap();
        fields.sort();
        assert_eq!(fields, vec![("a".into(), "1".into()), ("b".into(), "2".into())], "{name}");
        kv.hdel("t:h", "a").await.unwrap();
        assert_eq!(kv.hgetall("t:h").await.unwrap().len(), 1, "{name}");
        assert!(kv.hgetall("t:none").await.unwrap().is_empty(), "{name}");

        assert!(kv.set_nx("t:lease", "me", minute).await.unwrap(), "{name}: first taker wins");
        assert!(!kv.set_nx("t:lease", "you", minute).await.unwrap(), "{name}: second taker waits");
        assert!(!kv.expire_if_equal("t:lease", "you", minute).await.unwrap(), "{name}: not yours to renew");
        assert!(kv.expire_if_equal("t:lease", "me", minute).await.unwrap(), "{name}");
        assert!(!kv.delete_if_equal("t:lease", "you").await.unwrap(), "{name}: not yours to release");
        assert!(kv.delete_if_equal("t:lease", "me").await.unwrap(), "{name}");
        assert_eq!(kv.get("t:lease").await.unwrap(), None, "{name}");

        kv.set_ex("t:rec", "3:sealed", minute).await.unwrap();
        assert!(!kv.replace_if_prefix("t:rec", "2:", "3:other", minute).await.unwrap(), "{name}: stale version");
        assert!(kv.replace_if_prefix("t:rec", "3:", "4:new", minute).await.unwrap(), "{name}");
        assert_eq!(kv.get("t:rec").await.unwrap().as_deref(), Some("4:new"), "{name}");
        assert!(!kv.replace_if_prefix("t:gone", "1:", "2:x", minute).await.unwrap(), "{name}: absent stays absent");
    }
}

#[tokio::test]
async fn a_redis_that_accepts_but_never_answers_is_an_error_not_a_hang() {
    // A listener that takes connections and says nothing, like a wedged server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let kv = Kv::Redis(redis_pool(&RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).unwrap()).unwrap());
    let outcome = tokio::time::timeout(Duration::from_secs(10), kv.get("x")).await;
    assert!(matches!(outcome, Ok(Err(_))), "a clear error within the deadline, not a hang");
}

#[tokio::test]
async fn an_acl_user_and_password_in_the_url_are_used_and_a_wrong_one_is_refused() {
    let redis = RedisServer::start_with_user("s3cret-pw");
    let kv = Kv::Redis(redis_pool(&RedisUrl::parse(&redis.url()).unwrap()).unwrap());
    kv.set_ex("t:a", "1", Duration::from_secs(60)).await.unwrap();
    assert_eq!(kv.get("t:a").await.unwrap().as_deref(), Some("1"));
    let wrong = redis.url().replace("s3cret-pw", "wrong");
    let refused = Kv::Redis(redis_pool(&RedisUrl::parse(&wrong).unwrap()).unwrap());
    let err = refused.ping().await.unwrap_err();
    assert!(!err.to_string().contains("wrong"), "the password never appears in an error: {err}");
}
