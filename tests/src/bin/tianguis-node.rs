//! The `tianguis` binary (`server::cli::main`), built in the test package so the process suite
//! finds it through `CARGO_BIN_EXE_tianguis-node` (Cargo offers that only for a package's own
//! binaries).

#[tokio::main]
async fn main() {
    server::cli::main().await;
}
