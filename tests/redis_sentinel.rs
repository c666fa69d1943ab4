//! threelo on a real Sentinel set (a primary, a replica, three Sentinels), started by the tests
//! and shared by the tests of this file: signing in, pages, sessions, a refresh storm over two
//! instances, and `check-config`. The failover is in `redis_sentinel_failover.rs`, on a set of
//! its own.

mod support;

use std::sync::{Arc, Mutex, Weak};

use support::scenarios::{check_config, refresh_storm_over_two_instances, sign_in_browse_and_sign_out_everywhere};
use support::topology::{SentinelSet, shared};

static SET: Mutex<Weak<SentinelSet>> = Mutex::new(Weak::new());

fn sentinels() -> Arc<SentinelSet> {
    shared(&SET, SentinelSet::start)
}

#[tokio::test]
async fn signing_in_browsing_and_signing_out_everywhere_work_through_sentinels() {
    let set = sentinels();
    sign_in_browse_and_sign_out_everywhere(&set.url()).await;
}

#[tokio::test]
async fn fifty_requests_on_two_instances_refresh_an_expired_token_exactly_once_through_sentinels() {
    let set = sentinels();
    refresh_storm_over_two_instances(&set.url()).await;
}

#[tokio::test]
async fn check_config_says_it_will_ask_the_sentinels_and_names_the_primary() {
    let set = sentinels();
    let (code, out, err) = check_config(&set.url());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Redis mode:    Sentinel: master `mymaster`, database 0, asked of 3 Sentinel(s)"), "{out}");
    let primary = format!("the Sentinels name master `mymaster` at 127.0.0.1:{}", set.primary.port);
    assert!(out.contains(&primary), "{out}");
}

#[tokio::test]
async fn check_config_says_when_the_sentinels_do_not_know_the_master_name() {
    let set = sentinels();
    let url = set
        .url()
        .replace("redis+sentinel://", "redis+sentinel://app:unknown-pw-777@")
        .replace("/mymaster", "/nosuchmaster");
    let (code, out, err) = check_config(&url);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("do not know a master named `nosuchmaster`"), "{err}");
    assert!(err.contains("app:****@"), "{err}");
    assert!(!format!("{out}{err}").contains("unknown-pw-777"), "the password is never printed");
}

#[test]
fn check_config_says_when_no_sentinel_answers_without_failing_the_start() {
    let (a, b) = (support::free_port(), support::free_port());
    let url = format!("redis+sentinel://app:down-pw-99@127.0.0.1:{a},127.0.0.1:{b}/mymaster");
    let (code, out, err) = check_config(&url);
    assert_eq!(code, 0, "Redis down now is not a wrong configuration: {out}{err}");
    assert!(out.contains("not reachable now (no Sentinel answered"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{a}: connection refused")), "each Sentinel's reason: {out}");
    assert!(!format!("{out}{err}").contains("down-pw-99"), "the password is never printed");
}
