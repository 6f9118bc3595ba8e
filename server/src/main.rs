//! The `tianguis` binary. Everything happens in the `server` library.

#[tokio::main]
async fn main() {
    server::cli::main().await;
}
