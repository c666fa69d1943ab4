//! A Sentinel set losing its primary (kill -9) while a browser keeps loading a signed-in page:
//! 503s, never a 500 or a hang, and the same session back once the Sentinels have promoted the
//! replica; the connection layer follows them by itself.

mod support;

use support::scenarios::{Instance, failover_under_a_polling_client};
use support::topology::SentinelSet;
use threelo_emulator::seed::ids::ALICE;

#[tokio::test]
async fn killing_the_primary_gives_503s_then_the_same_session_on_the_promoted_replica() {
    let mut set = SentinelSet::start();
    let app = Instance::spawn(&set.url()).await;
    let (client, _) = app.signed_in_browser(ALICE).await;
    set.replicate();
    failover_under_a_polling_client(&app, client, || set.primary.kill()).await;
    assert!(set.replica.text(&["ROLE"]).contains("master"), "the replica was promoted");
}
