//! A Redis Cluster losing the primary that holds the session's keys (kill -9) while a browser
//! keeps loading a signed-in page: 503s, never a 500 or a hang, and the same session back once a
//! replica has taken over.

mod support;

use support::scenarios::{Instance, failover_under_a_polling_client};
use support::topology::Cluster;
use threelo_emulator::seed::ids::ALICE;

#[tokio::test]
async fn killing_the_primary_of_the_session_gives_503s_then_the_same_session_again() {
    let mut cluster = Cluster::start();
    let app = Instance::spawn(&cluster.url()).await;
    let (client, jar) = app.signed_in_browser(ALICE).await;
    cluster.replicate();
    let sessions = cluster.keys("threelo:session:");
    assert_eq!(sessions.len(), 1, "one session: {sessions:?}");
    let owner = cluster.primary_of(&sessions[0]);
    failover_under_a_polling_client(&app, client, jar, || cluster.nodes[owner].kill()).await;
}
