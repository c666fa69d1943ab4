//! Writing to the terminal from the commands (`--help`, `gen-secret`, the demo's banner).

/// Writes `text`; a reader that went away (`| head`) is not an error worth a panic.
pub fn print_ignoring_closed_pipe(out: &mut impl std::io::Write, text: &str) {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
