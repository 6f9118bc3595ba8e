use std::time::Duration;

use harness::{Storage, TestNode};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[tokio::test]
async fn health_reports_whether_the_database_answers() {
    let node = TestNode::spawn().await;
    let ok = node.get("/health", None).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["database"], "ok");

    // Close the pool under the running server: health must say so, not hang or crash.
    node.ctx.db.clone().close().await.unwrap();
    let down = node.get("/health", None).await;
    assert_eq!(down.status(), 503);
    let body: Value = down.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    node.shutdown().await;
}

async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    // Bounded: the server must answer or close well within this.
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("the server kept a slow connection open")
        .unwrap_or_default();
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let node = TestNode::spawn_with(Storage::Default, |c| c.server.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(node.domain.replace("localhost", "127.0.0.1"))
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut stream).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_gets_408() {
    let node = TestNode::spawn_with(Storage::Default, |c| c.server.body_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(node.domain.replace("localhost", "127.0.0.1"))
        .await
        .unwrap();
    let head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"username\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The node still serves others.
    assert_eq!(node.get("/health", None).await.status(), 200);
    node.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404_in_the_right_format() {
    let node = TestNode::spawn().await;
    let api = node.get("/api/v1/nothing/here", None).await;
    assert_eq!(api.status(), 404);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let page = node.get("/nothing/here", None).await;
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let media = node.get("/media/../../etc/passwd", None).await;
    assert!(
        media.status() == 404 || media.status() == 400,
        "{}",
        media.status()
    );
    node.shutdown().await;
}
