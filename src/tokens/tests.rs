use super::*;
use crate::config::random_b64;

fn ring(spec: &str) -> Arc<KeyRing> {
    Arc::new(KeyRing::parse(spec).unwrap())
}

fn tokens() -> TokenSet {
    TokenSet {
        access_token: SecretString::from("access-AAAA"),
        refresh_token: Some(SecretString::from("refresh-BBBB")),
        expires_at: 1_900_000_000,
        scopes: vec!["read:me".into(), "offline_access".into()],
    }
}

fn store(kv: &Kv, ring: Arc<KeyRing>) -> TokenStore {
    TokenStore::new(kv.clone(), ring, Duration::from_secs(60))
}

#[tokio::test]
async fn a_record_round_trips_and_is_never_stored_in_plaintext() {
    let kv = Kv::memory();
    let store = store(&kv, ring(&format!("k1:{}", random_b64(32))));
    let id = store.create("acct-1", tokens(), 1_800_000_000).await.unwrap();
    let record = store.load(id, "acct-1").await.unwrap();
    assert_eq!(record.tokens.access_token.expose_secret(), "access-AAAA");
    assert_eq!(record.tokens.refresh_token.unwrap().expose_secret(), "refresh-BBBB");
    assert_eq!((record.version, record.consented_at), (1, 1_800_000_000));
    let Kv::Memory(map) = &kv else { unreachable!() };
    for (_, value) in map.dump() {
        assert!(!value.contains("access-AAAA") && !value.contains("refresh-BBBB"), "{value}");
        assert!(value.starts_with("1:k1."), "{value}");
    }
}

#[tokio::test]
async fn a_record_does_not_open_for_another_account_or_under_another_id() {
    let kv = Kv::memory();
    let store = store(&kv, ring(&format!("k1:{}", random_b64(32))));
    let id = store.create("acct-1", tokens(), 0).await.unwrap();
    assert!(matches!(store.load(id, "acct-2").await, Err(TokenError::Unusable(_))));
    let copied = Uuid::new_v4();
    let value = kv.get(&TokenStore::key(id)).await.unwrap().unwrap();
    kv.set_ex(&TokenStore::key(copied), &value, Duration::from_secs(60)).await.unwrap();
    assert!(matches!(store.load(copied, "acct-1").await, Err(TokenError::Unusable(_))));
}

#[tokio::test]
async fn a_new_first_key_keeps_old_records_open_and_a_removed_key_means_sign_in_again() {
    let (k1, k2) = (random_b64(32), random_b64(32));
    let kv = Kv::memory();
    let id = store(&kv, ring(&format!("k1:{k1}"))).create("acct", tokens(), 0).await.unwrap();
    let rotated = store(&kv, ring(&format!("k2:{k2},k1:{k1}")));
    assert!(rotated.load(id, "acct").await.is_ok());
    let fresh = rotated.create("acct", tokens(), 0).await.unwrap();
    assert!(kv.get(&TokenStore::key(fresh)).await.unwrap().unwrap().starts_with("1:k2."));
    let dropped = store(&kv, ring(&format!("k2:{k2}")));
    let err = dropped.load(id, "acct").await.unwrap_err();
    assert!(matches!(&err, TokenError::Unusable(m) if m.to_string().contains("`k1`")), "{err}");
}

#[tokio::test]
async fn missing_or_garbage_records_are_unusable_not_errors() {
    let kv = Kv::memory();
    let store = store(&kv, ring(&format!("k1:{}", random_b64(32))));
    assert!(matches!(store.load(Uuid::new_v4(), "a").await, Err(TokenError::Unusable(_))));
    let id = Uuid::new_v4();
    kv.set_ex(&TokenStore::key(id), "garbage", Duration::from_secs(60)).await.unwrap();
    assert!(matches!(store.load(id, "a").await, Err(TokenError::Unusable(_))));
}
