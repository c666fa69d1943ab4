//! Micro-benchmarks of the CPU work on an authenticated page's path (`cargo bench`):
//! sealing and opening a token record (AES-256-GCM + JSON), and the issue list from Jira's answer
//! to HTML (parsing a 50-issue search answer, then rendering the page).
//!
//! The end-to-end numbers (throughput, latency, Redis commands, memory) come from `bench/run`;
//! these say how much of a page's time is ours and where.

/// The allocator the binary uses (`src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use threelo::atlassian::{SearchAnswer, Site, TokenSet};
use threelo::config::PublicUrl;
use threelo::pages::Chrome;
use threelo::pages::jira::IssuesPage;
use threelo::session::User;
use threelo::store::Kv;
use threelo::tokens::{KeyRing, TokenRecord, TokenStore};
use threelo::urls::Urls;
use uuid::Uuid;

const CLOUD_ID: &str = threelo_emulator::seed::ids::ACME_CLOUD_ID;

/// A token record the size Atlassian's are: a JWT-sized access token, a long refresh token.
fn record() -> TokenRecord {
    TokenRecord {
        id: Uuid::new_v4(),
        account_id: "712020:2f5a1c1e-7d3b-4c11-9a0e-5b8a1d2c3e4f".to_owned(),
        tokens: TokenSet {
            access_token: SecretString::from("a".repeat(1100)),
            refresh_token: Some(SecretString::from("r".repeat(420))),
            expires_at: 1_800_000_000,
            scopes: ["read:me", "read:jira-work", "read:jira-user", "read:confluence-content.all", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
        },
        consented_at: 1_790_000_000,
        version: 7,
        uncertain_since: None,
    }
}

fn token_records(c: &mut Criterion) {
    let ring =
        KeyRing::parse(&format!("k1:{}", "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")).expect("a valid key ring");
    let store = TokenStore::new(Kv::Memory(Arc::default()), Arc::new(ring), Duration::from_secs(3600));
    let record = record();
    let sealed = store.seal(&record).expect("seals");
    let mut group = c.benchmark_group("token record");
    group.bench_function("seal", |b| b.iter(|| store.seal(black_box(&record)).expect("seals")));
    group.bench_function("open", |b| {
        b.iter(|| store.open(record.id, &record.account_id, black_box(&sealed)).expect("opens"))
    });
    group.finish();
}

/// A `/search/jql` answer of `count` issues shaped like Jira's (and the emulator's): the fields
/// the list asks for, plus the `self` links and ids Jira always sends.
fn search_answer(count: usize) -> String {
    let api = format!("https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3");
    let issues: Vec<serde_json::Value> = (1..=count)
        .map(|n| {
            serde_json::json!({
                "id": (10000 + n).to_string(),
                "key": format!("ACME-{n}"),
                "self": format!("{api}/issue/{}", 10000 + n),
                "fields": {
                    "summary": format!("Make the <b>checkout</b> flow handle card number {n} & \"friends\""),
                    "issuetype": { "id": "10002", "name": "Task", "subtask": false },
                    "priority": { "id": "3", "name": "Medium", "self": format!("{api}/priority/3") },
                    "status": {
                        "description": "", "id": "3", "name": "In Progress", "self": format!("{api}/status/3"),
                        "statusCategory": { "colorName": "yellow", "id": 4, "key": "indeterminate", "name": "In Progress" }
                    },
                    "updated": "2026-11-20T10:13:30.000+0000"
                }
            })
        })
        .collect();
    serde_json::json!({ "isLast": false, "issues": issues, "nextPageToken": "CAEaAggD" }).to_string()
}

fn chrome() -> Chrome {
    Chrome {
        user: User {
            account_id: "712020:2f5a1c1e".to_owned(),
            name: "Alice Example".to_owned(),
            email: Some("alice@example.com".to_owned()),
            avatar_url: None,
        },
        csrf: "c".repeat(43),
        sites: vec![site()],
        current_site: Some(CLOUD_ID.to_owned()),
        query: String::new(),
        quota_notice: None,
    }
}

fn site() -> Site {
    Site {
        id: CLOUD_ID.to_owned(),
        url: "https://acme.atlassian.net".to_owned(),
        name: "acme".to_owned(),
        scopes: vec!["read:jira-work".to_owned()],
        avatar_url: None,
    }
}

fn issue_list(c: &mut Criterion) {
    let text = search_answer(50);
    let answer = SearchAnswer::new(bytes::Bytes::from(text.clone()));
    let urls = Urls::new(&PublicUrl::parse("http://localhost:8080").expect("parses"));
    let mut group = c.benchmark_group("issue list (50 issues)");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse Jira's answer", |b| b.iter(|| black_box(&answer).page().expect("parses")));
    // The rows take their text from the parsed answer, so each render gets a parse of its own.
    group.bench_function("render the page", |b| {
        b.iter_batched(
            || answer.page().expect("parses"),
            |found| IssuesPage::new(&urls, chrome(), site(), found, None).render().expect("renders"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, token_records, issue_list);
criterion_main!(benches);
