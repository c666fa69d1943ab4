//! A Sentinel set losing its primary (kill -9) while a browser keeps loading a signed-in page:
//! 503s, never a 500 or a hang, and the same session back once the Sentinels have promoted the
//! replica; the connection layer follows them by itself.

mod support;

use support::scenarios::{Instance, failover_under_a_polling_client};
use support::topology::SentinelSet;
use threelo_emulator::seed::ids::{ALICE, CAROL};

#[tokio::test]
async fn killing_the_primary_gives_503s_then_the_same_session_on_the_promoted_replica() {
    let mut set = SentinelSet::start();
    let app = Instance::spawn(&set.url()).await;
    let (client, jar) = app.signed_in_browser(ALICE).await;
    set.replicate();
    failover_under_a_polling_client(&app, client, jar, || set.primary.kill()).await;
    assert!(set.replica.text(&["ROLE"]).contains("master"), "the replica was promoted");
}

#[tokio::test]
async fn a_planned_failover_moves_threelo_to_the_new_primary_without_a_restart() {
    let set = SentinelSet::start();
    let app = Instance::spawn(&set.url()).await;
    let (client, jar) = app.signed_in_browser(ALICE).await;
    set.replicate();
    // SENTINEL FAILOVER: the primary steps down and stays up as a replica, answering writes with
    // READONLY to any connection that survived the switch.
    failover_under_a_polling_client(&app, client, jar, || {
        let asked = set.sentinels[0].text(&["SENTINEL", "FAILOVER", "mymaster"]);
        assert_eq!(asked, "OK", "SENTINEL FAILOVER");
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !set.primary.text(&["ROLE"]).contains("slave") {
        assert!(std::time::Instant::now() < deadline, "the old primary did not step down within 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(set.replica.text(&["ROLE"]).contains("master"), "the replica was promoted");
    // The old primary is up and answers reads, but writes there would fail (READONLY): a sign-in
    // (which writes the token record, the index and the session) must land on the new primary.
    let (_carol, _) = app.signed_in_browser(CAROL).await;
}
