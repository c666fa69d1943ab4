//! The ACL user that docs/self-hosting.md gives threelo is enough: only the commands listed
//! there, only keys under `threelo:`, and threelo still signs in, browses, refreshes, lists and
//! ends sessions.

mod support;

use support::RedisServer;
use support::scenarios::{refresh_storm_over_two_instances, sign_in_browse_and_sign_out_everywhere};

/// The rule of docs/self-hosting.md, section 4 (keep the two the same).
const DOCUMENTED_RULES: &[&str] = &[
    "~threelo:*",
    "resetchannels",
    "-@all",
    "+get",
    "+set",
    "+setex",
    "+del",
    "+expire",
    "+pexpire",
    "+hset",
    "+hdel",
    "+hgetall",
    "+eval",
    "+evalsha",
    "+script|load",
    "+multi",
    "+exec",
    "+ping",
    "+select",
    "+role",
    "+info",
    "+cluster|slots",
    "+cluster|nodes",
];

#[tokio::test]
async fn threelo_works_with_the_documented_acl_user_and_nothing_more() {
    let redis = RedisServer::start_with_rules("acl-pw-5150", DOCUMENTED_RULES);
    sign_in_browse_and_sign_out_everywhere(&redis.url()).await;
    refresh_storm_over_two_instances(&redis.url()).await;
}

#[test]
fn the_documented_acl_rule_is_the_one_in_the_guide() {
    let guide = include_str!("../docs/self-hosting.md");
    let rule = DOCUMENTED_RULES.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(" ");
    assert!(guide.contains(&rule), "docs/self-hosting.md must show: {rule}");
}
