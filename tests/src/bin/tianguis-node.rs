//! The `tianguis` binary (`server/src/main.rs`), built in the test package so the process suite
//! finds it through `CARGO_BIN_EXE_tianguis-node` (Cargo offers that only for a package's own
//! binaries).

#[tokio::main]
async fn main() {
    let cli = server::cli::parse();
    if let Err(e) = server::cli::run(cli).await {
        // One line: the error and its causes.
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}
