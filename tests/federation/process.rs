//! The whole chain as an admin and a Mastodon user meet it: `tianguis serve` as a process (with
//! `federation.debug = true`), a peer that finds the shop by WebFinger and follows it, and
//! listings made with the `tianguis` CLI reaching the peer, signed, through the delivery worker.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use harness::{create_pg_database, eventually, peer::Peer};

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|p| p.parent()).unwrap();
    let bin = dir.join("tianguis");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it",
        bin.display()
    );
    bin
}

struct Site {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Site {
    fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(binary())
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn serve(&self) -> Child {
        let mut child = Command::new(binary())
            .arg("serve")
            .current_dir(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("tianguis listening on"), "{line}");
        child
    }
}

#[tokio::test]
async fn listings_made_with_the_cli_reach_a_follower_of_a_running_node() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let domain = format!("localhost:{port}");
    let mut env = vec![
        (
            "TIANGUIS__SERVER__BIND".to_string(),
            format!("127.0.0.1:{port}"),
        ),
        ("TIANGUIS__INSTANCE__DOMAIN".to_string(), domain.clone()),
        (
            "TIANGUIS__FEDERATION__DEBUG".to_string(),
            "true".to_string(),
        ),
    ];
    let mut pg = None;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL")
        && !admin.is_empty()
    {
        let (url, name) = create_pg_database(&admin).await;
        env.push(("TIANGUIS__DATABASE__URL".to_string(), url));
        pg = Some((admin, name));
    }
    let site = Site {
        dir: tempfile::tempdir().unwrap(),
        env,
    };
    site.cli(
        &["user", "create", "--username", "ana", "--password-stdin"],
        "a long password",
    );
    site.cli(
        &[
            "shop",
            "create",
            "--handle",
            "pottery",
            "--owner",
            "ana",
            "--name",
            "Ana's Pottery",
        ],
        "",
    );
    let server = site.serve();

    let peer = Peer::spawn().await;
    let shop = peer.resolve(&format!("pottery@{domain}")).await.unwrap();
    peer.follow(&shop).await.unwrap();
    assert_eq!(peer.received_of("Accept").len(), 1);

    let created = site.cli(
        &[
            "listing",
            "create",
            "--shop",
            "pottery",
            "--title",
            "Cántaro",
            "--price",
            "45.50",
            "--currency",
            "MXN",
            "--stock",
            "2",
            "--tag",
            "barro",
        ],
        "",
    );
    let url = created.lines().last().unwrap().to_string();
    let wait = Duration::from_secs(20);
    assert!(
        eventually(wait, || peer.received_of("Create").len() == 1).await,
        "no Create: {:?}",
        peer.received()
    );
    let note = &peer.received_of("Create")[0]["object"];
    assert_eq!(note["id"], url.as_str());
    assert!(note["content"].as_str().unwrap().contains("45.50 MXN"));

    site.cli(&["listing", "update", &url, "--stock", "0"], "");
    assert!(eventually(wait, || peer.received_of("Update").len() == 1).await);
    assert!(
        peer.received_of("Update")[0]["object"]["content"]
            .as_str()
            .unwrap()
            .contains("Sold out")
    );
    site.cli(&["listing", "withdraw", &url], "");
    assert!(eventually(wait, || peer.received_of("Delete").len() == 1).await);
    assert_eq!(peer.received_of("Delete")[0]["object"]["id"], url.as_str());

    let queue = site.cli(&["deliveries", "status"], "");
    assert!(
        queue.contains("pending: 0") && queue.contains("failing hosts: 0"),
        "{queue}"
    );
    let retried = site.cli(&["deliveries", "retry", "localhost:1"], "");
    assert!(retried.contains("0 deliveries to localhost:1"), "{retried}");

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let server = std::sync::Mutex::new(server);
    let exited = eventually(Duration::from_secs(15), || {
        matches!(server.lock().map(|mut s| s.try_wait()), Ok(Ok(Some(_))))
    })
    .await;
    assert!(exited, "serve did not stop on SIGTERM");
    if let Some((admin, name)) = pg {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(&admin).await.unwrap();
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
