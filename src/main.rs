//! The `threelo` binary: parse the command line and hand over to the library.

use threelo::cli::Cli;

/// mimalloc instead of the system allocator: a page makes thousands of small allocations (parsing
/// Jira's JSON, rendering HTML), and mimalloc makes both about a third faster (`cargo bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = match Cli::parse(
        std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()),
        std::env::var("THREELO_CONFIG").ok(),
    ) {
        Ok(cli) => cli,
        Err(problem) => {
            eprintln!("threelo: {problem}");
            std::process::exit(2);
        }
    };
    std::process::exit(cli.run().await);
}
