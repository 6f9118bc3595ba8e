//! The `tianguis` binary. Everything happens in the `server` library.

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
