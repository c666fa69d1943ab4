//! threelo built without the `demo` feature, as the production image is: `threelo demo` is still a
//! command but exits 2 saying why, and the binary holds no emulator code. These tests exist only in
//! that build: `cargo test --no-default-features --test no_demo` (scripts/test runs it).
#![cfg(not(feature = "demo"))]

use std::process::{Command, Stdio};

#[test]
fn demo_exits_2_and_says_this_build_has_no_demo() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("THREELO_")) {
        command.env_remove(name);
    }
    let output = command.arg("demo").stdin(Stdio::null()).output().expect("threelo runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "threelo: this build of threelo has no demo: it was built without the `demo` feature\n");
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn the_binary_holds_no_emulator_code() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_threelo")).expect("the binary is readable");
    // Every function of the emulator crate would carry the crate's name in its symbol (and its
    // panic locations its path): a build with the feature has thousands of these.
    for needle in [&b"threelo_emulator"[..], b"Local Atlassian emulator"] {
        let found = binary.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(found, 0, "{} occurs {found} times", String::from_utf8_lossy(needle));
    }
}
