//! threelo on a real Redis Cluster (three primaries, a replica each), started by the tests and
//! shared by the tests of this file: signing in, pages, sessions, a refresh storm over two
//! instances, and `check-config`. The failover is in `redis_cluster_failover.rs`, on a cluster
//! of its own.

mod support;

use std::sync::{Arc, Mutex, Weak};

use support::RedisServer;
use support::scenarios::{check_config, refresh_storm_over_two_instances, sign_in_browse_and_sign_out_everywhere};
use support::topology::{Cluster, shared};

static CLUSTER: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

fn cluster() -> Arc<Cluster> {
    shared(&CLUSTER, Cluster::start)
}

#[tokio::test]
async fn signing_in_browsing_and_signing_out_everywhere_work_on_a_redis_cluster() {
    let cluster = cluster();
    sign_in_browse_and_sign_out_everywhere(&cluster.url()).await;
    // The keys really are spread over the primaries (the cluster is no single server in disguise).
    assert!(!cluster.keys("threelo:").is_empty());
}

#[tokio::test]
async fn fifty_requests_on_two_instances_refresh_an_expired_token_exactly_once_on_a_redis_cluster() {
    let cluster = cluster();
    // One seed is enough: the client learns the other nodes (and follows MOVED) by itself.
    refresh_storm_over_two_instances(&cluster.one_seed_url()).await;
}

#[tokio::test]
async fn check_config_says_it_will_use_the_cluster_and_that_it_answers() {
    let cluster = cluster();
    let (code, out, err) = check_config(&cluster.url());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Redis mode:    Cluster: 6 seed node(s)"), "{out}");
    assert!(out.contains("answers: a cluster of 6 node(s), 3 of them primaries"), "{out}");
}

#[test]
fn check_config_says_when_a_cluster_url_names_a_server_that_is_not_in_cluster_mode() {
    let single = RedisServer::start_with_user("cluster-pw-31337");
    let url = single.url().replace("redis://", "redis+cluster://");
    let (code, out, err) = check_config(&url);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("is not in cluster mode"), "{err}");
    assert!(err.contains("redis+cluster://app:****@127.0.0.1:"), "masked: {err}");
    assert!(!format!("{out}{err}").contains("cluster-pw-31337"), "the password is never printed");
}

#[test]
fn check_config_says_when_no_cluster_node_answers_without_failing_the_start() {
    let port = support::free_port();
    let (code, out, err) = check_config(&format!("redis+cluster://app:gone-pw-4242@127.0.0.1:{port}"));
    assert_eq!(code, 0, "Redis down now is not a wrong configuration: {out}{err}");
    assert!(out.contains("Redis check:   not reachable now"), "{out}");
    assert!(out.contains("redis+cluster://app:****@127.0.0.1:"), "{out}");
    assert!(!format!("{out}{err}").contains("gone-pw-4242"), "the password is never printed");
}
