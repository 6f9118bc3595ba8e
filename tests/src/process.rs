//! Real node processes: the `tianguis` binary's main (built in this package as `tianguis-node`)
//! run as `migrate`, CLI commands and `serve` in a temporary directory, on a SQLite file there or
//! on a fresh PostgreSQL database when `TEST_DATABASE_URL` is set, configured only through
//! `TIANGUIS__SECTION__KEY` variables, stopped with SIGKILL or SIGTERM. Each `serve` writes its
//! log to a file in the directory, shown when it fails to start.
//!
//! The binary's path comes from the test (`env!("CARGO_BIN_EXE_tianguis-node")`): Cargo sets it
//! for integration tests only, not for this library.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use chrono::Utc;
use market::entities::{delivery, outbox_activity};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};

use crate::sink::Sink;

/// How long a node may take to answer `/health` after `serve` starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A free port on 127.0.0.1 (bound and released; a node binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One node: its domain, a temporary directory (media, logs, the SQLite file) and its database.
pub struct Site {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The port its first process listens on.
    pub port: u16,
    /// `localhost:PORT`: the domain in its ids, for every command and process of the site.
    pub domain: String,
    /// The database every process of this site uses.
    pub database_url: String,
    /// `(admin URL, database name)` of the PostgreSQL database to drop at the end.
    pg: Option<(String, String)>,
    logs: AtomicUsize,
    env: Vec<(String, String)>,
}

impl Site {
    /// A fresh site for the binary at `bin`, on a free port: a SQLite file, or a new PostgreSQL
    /// database on the server `TEST_DATABASE_URL` names.
    pub async fn new(bin: &str) -> Site {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, pg) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let (url, name) = crate::create_pg_database(&admin).await;
                (url, Some((admin, name)))
            }
            _ => (
                format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display()),
                None,
            ),
        };
        Site {
            dir,
            bin: PathBuf::from(bin),
            port,
            domain: format!("localhost:{port}"),
            database_url,
            pg,
            logs: AtomicUsize::new(0),
            env: Vec::new(),
        }
    }

    /// Set `key` (a `TIANGUIS__SECTION__KEY` variable) to `value` for every command and process
    /// of the site.
    pub fn with_env(mut self, key: &str, value: &str) -> Site {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The node's domain (`localhost:PORT`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether the site runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with this site's configuration and nothing inherited that could change it.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args).current_dir(self.dir());
        for (key, _) in
            std::env::vars().filter(|(k, _)| k.starts_with("TIANGUIS__") || k == "RUST_LOG")
        {
            command.env_remove(key);
        }
        let media = self.dir().join("media");
        command
            .env("TIANGUIS__INSTANCE__DOMAIN", &self.domain)
            .env("TIANGUIS__DATABASE__URL", &self.database_url)
            .env("TIANGUIS__MEDIA__DIR", media)
            // http:// and loopback inboxes (the sink) are allowed only in debug mode.
            .env("TIANGUIS__FEDERATION__DEBUG", "true")
            .env("TIANGUIS__FEDERATION__DELIVER", "true");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Run a CLI command that must succeed, with `stdin`; returns its standard output.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the CLI");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("CLI output");
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `migrate`, then an account `username` (password [`crate::PASSWORD`]) and its shop
    /// `handle`, through the CLI.
    pub fn shop(&self, username: &str, handle: &str) {
        self.cli(&["migrate"], "");
        self.cli(
            &["user", "create", "--username", username, "--password-stdin"],
            crate::PASSWORD,
        );
        self.cli(
            &[
                "shop", "create", "--handle", handle, "--owner", username, "--name", handle,
            ],
            "",
        );
    }

    /// Start `serve` on the site's port with the log filter `log` (`info`, `debug`, ...), and
    /// wait until `/health` answers 200.
    pub async fn serve(&self, log: &str) -> NodeProcess {
        self.serve_on(self.port, log).await
    }

    /// Start another `serve` of the same node (same domain and database) on `port`.
    pub async fn serve_on(&self, port: u16, log: &str) -> NodeProcess {
        let n = self.logs.fetch_add(1, Ordering::Relaxed);
        let log_path = self.dir().join(format!("serve-{n}-{port}.log"));
        let log_file = File::create(&log_path).expect("log file");
        let child = self
            .command(&["serve"])
            .env("TIANGUIS__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("TIANGUIS__LOG__FILTER", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn serve");
        let mut node = NodeProcess {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            base: format!("http://{}", self.domain),
            log: log_path,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = node.child.try_wait().expect("try_wait") {
                panic!("serve exited with {status}: {}", node.log_text());
            }
            let health = node.http.get(format!("{}/health", node.addr)).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                return node;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not answer /health within {START_TIMEOUT:?}: {}",
                node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A connection to the site's database, to read what the processes left there.
    pub async fn database(&self) -> DatabaseConnection {
        market::db::connect(&self.database_url)
            .await
            .expect("open the database")
    }

    /// Drop the PostgreSQL database, if any (also done on drop, should a test fail first).
    pub async fn remove(mut self) {
        if let Some((admin, name)) = self.pg.take() {
            drop_pg_database(&admin, &name).await;
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Drop may run inside a runtime, which cannot block on another future: use a thread
            // with its own.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Runtime::new() {
                    runtime.block_on(drop_pg_database(&admin, &name));
                }
            })
            .join();
        }
    }
}

async fn drop_pg_database(admin: &str, name: &str) {
    if let Ok(conn) = Database::connect(admin).await {
        let _ = conn
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        let _ = conn.close().await;
    }
}

/// A running `serve` process. Dropping it kills the process.
pub struct NodeProcess {
    child: Child,
    /// Where it listens: `http://127.0.0.1:PORT`.
    pub addr: String,
    /// Its base URL, from its domain: `http://localhost:PORT`.
    pub base: String,
    /// Its log file.
    pub log: PathBuf,
    /// A client that follows no redirects.
    pub http: reqwest::Client,
}

impl NodeProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then wait up to `timeout` for the process to exit; returns its status and how
    /// long it took, or panics with its log.
    pub async fn terminate(&mut self, timeout: Duration) -> (ExitStatus, Duration) {
        let sent = Command::new("kill")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {} failed", self.pid());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < timeout,
                "still running {timeout:?} after SIGTERM: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Log in through the API; returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .http
            .post(format!("{}/api/v1/auth/login", self.addr))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("login JSON");
        body["token"].as_str().expect("a token").to_string()
    }

    /// Publish a listing in `shop` through the API; returns it.
    pub async fn create_listing(&self, token: &str, shop: &str, listing: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}/api/v1/shops/{shop}/listings", self.addr))
            .bearer_auth(token)
            .json(listing)
            .send()
            .await
            .expect("create listing");
        assert_eq!(response.status(), 201);
        response.json().await.expect("listing JSON")
    }

    /// `POST /api/v1/listings/{id}/images` with `bytes` as the file (alt text "A photo").
    pub async fn upload_image(&self, token: &str, id: &str, bytes: Vec<u8>) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("photo"),
            )
            .text("alt", "A photo");
        self.http
            .post(format!("{}/api/v1/listings/{id}/images", self.addr))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    /// Make the sink trust the key of shop `handle`, then have each of `followers` (sink actor
    /// names) follow it with a signed `Follow` to this node's inbox; each gets its `Accept`.
    pub async fn followed_by(&self, sink: &Sink, handle: &str, followers: &[String]) {
        let shop = format!("{}/shops/{handle}", self.base);
        let actor: Value = self
            .http
            .get(format!("{}/shops/{handle}", self.addr))
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("shop actor")
            .json()
            .await
            .expect("shop actor JSON");
        sink.trust_key(
            actor["publicKey"]["id"].as_str().expect("key id"),
            actor["publicKey"]["publicKeyPem"].as_str().expect("key"),
        );
        let inbox = format!("{}/inbox", self.addr);
        for name in followers {
            let status = sink.follow(&self.http, name, &shop, &inbox).await;
            assert_eq!(status, 202, "{name} could not follow: {}", self.log_text());
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The delivery rows of activity `activity_id`.
pub async fn deliveries_of(db: &DatabaseConnection, activity_id: &str) -> Vec<delivery::Model> {
    let Some(activity) = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::ActivityId.eq(activity_id))
        .one(db)
        .await
        .expect("read outbox_activities")
    else {
        return Vec::new();
    };
    delivery::Entity::find()
        .filter(delivery::Column::OutboxActivityId.eq(activity.id))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await
        .expect("read deliveries")
}

/// Whether a row is held by a worker now (pending, with a lease that has not run out).
pub fn leased(row: &delivery::Model) -> bool {
    row.state == delivery::STATE_PENDING && row.locked_until.is_some_and(|t| t > Utc::now())
}

/// Wait until the sink has received nothing new for `quiet` (answers in flight when a sender
/// died or stopped have landed), at most `timeout`; returns the count.
pub async fn settled(sink: &Sink, quiet: Duration, timeout: Duration) -> usize {
    settled_all(std::slice::from_ref(sink), quiet, timeout).await
}

/// [`settled`] for several sinks at once: nothing new on any of them for `quiet`.
pub async fn settled_all(sinks: &[Sink], quiet: Duration, timeout: Duration) -> usize {
    let received = || sinks.iter().map(Sink::received_count).sum::<usize>();
    let deadline = Instant::now() + timeout;
    let mut count = received();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now = received();
        if now != count {
            count = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet || Instant::now() >= deadline {
            return count;
        }
    }
}
