//! A Redis Cluster losing the primary that holds the session's keys (kill -9) while a browser
//! keeps loading a signed-in page: 503s, never a 500 or a hang, and the same session back once a
//! replica has taken over.

mod support;

use support::scenarios::{Instance, acme_issues, failover_under_a_polling_client};
use support::topology::Cluster;
use threelo_emulator::seed::ids::ALICE;

#[tokio::test]
async fn killing_the_primary_of_the_session_gives_503s_then_the_same_session_again() {
    let mut cluster = Cluster::start();
    let app = Instance::spawn(&cluster.url()).await;
    let (client, jar) = app.signed_in_browser(ALICE).await;
    // Before the failover: a signed-in page costs at most 2 Redis commands on a cluster too (the
    // session and its token record), measured on the primaries around 50 page views.
    client.get(app.url(&acme_issues())).send().await.unwrap();
    cluster.reset_stats();
    for _ in 0..50 {
        assert_eq!(client.get(app.url(&acme_issues())).send().await.unwrap().status(), 200);
    }
    let commands = cluster.commands_since_reset();
    eprintln!("cluster: {commands} Redis commands for 50 signed-in pages");
    assert!(commands <= 100, "{commands} Redis commands for 50 pages: more than 2 a page");
    assert!(commands >= 50, "{commands} Redis commands for 50 pages: the count missed some");
    cluster.replicate();
    let sessions = cluster.keys("threelo:session:");
    assert_eq!(sessions.len(), 1, "one session: {sessions:?}");
    let owner = cluster.primary_of(&sessions[0]);
    failover_under_a_polling_client(&app, client, jar, || cluster.nodes[owner].kill()).await;
}
