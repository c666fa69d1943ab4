//! The `threelo` binary: parse the command line and hand over to the library.

use threelo::cli::{self, Cli};

/// mimalloc instead of the system allocator: a page makes thousands of small allocations (parsing
/// Jira's JSON, rendering HTML), and mimalloc makes both about a third faster (`cargo bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let code = match Cli::from_command_line(std::env::args_os(), std::env::var_os("THREELO_CONFIG")) {
        Ok(cli) => cli.run().await,
        // --help, --version, or a usage error (exit status 2).
        Err(refusal) => cli::print_usage(&refusal),
    };
    std::process::exit(code);
}
