//! Fan-out benchmark: one listing `Create` from a shop with 10,000 followers spread over 500
//! shared inboxes on 500 distinct hosts. Prints the wall time until every shared inbox has the
//! activity, deliveries per second, the node's CPU seconds, the time to compute as many RSA
//! signatures alone on one core (measured in the same run, just before), their ratio, and the
//! node's peak memory.
//!
//! ```sh
//! cargo build --release -p tianguis && \
//!   cargo run --release -p tianguis-tests --example bench_fanout -- [FOLLOWERS] [INBOXES] [--runs N]
//! ```
//!
//! Defaults 10000, 500 and 3 runs. The node is the release `tianguis` binary in its own process
//! (`serve`, delivery worker on, `federation.debug` so http:// and loopback inboxes are
//! allowed), on a SQLite file in a temporary directory, or on a fresh database on the
//! PostgreSQL server `BENCH_DATABASE_URL` points at. The followers are rows written straight
//! into its database; host k is the loopback address 127.0.{1 + k/250}.{1 + k%250}, where a
//! sink in this process listens on one common port and verifies every signature. Each run
//! creates one listing through the API and waits until all shared inboxes have its `Create`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use base64::Engine;
use federation::sender::SigningKey;
use harness::{
    procfs::{cpu_seconds, peak_rss},
    sample_listing,
    sink::Sink,
};
use market::{
    entities::{follow, outbox_activity, remote_actor, shop},
    service::{deliveries, followers},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "a long benchmark password";
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy)]
struct Args {
    followers: usize,
    inboxes: usize,
    runs: usize,
}

fn args() -> Args {
    let (mut numbers, mut runs) = (Vec::new(), 3);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs);
        } else if let Ok(n) = arg.parse::<usize>() {
            numbers.push(n);
        }
    }
    let followers = numbers.first().copied().unwrap_or(10_000).max(1);
    let inboxes = numbers.get(1).copied().unwrap_or(500).clamp(1, followers);
    Args {
        followers,
        inboxes,
        runs: runs.max(1),
    }
}

/// Host `k`'s address: distinct addresses in 127.0.0.0/8, all on `lo` on Linux.
fn host_address(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (k / 250) as u8, 1 + (k % 250) as u8)
}

/// `tianguis serve` in its own process; stopped with SIGTERM (then killed) when dropped.
struct Node(Child);

impl Node {
    fn stop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The node's data directory and the configuration every `tianguis` command runs with.
struct Setup {
    binary: PathBuf,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    base: String,
    database_url: String,
}

impl Setup {
    fn new(binary: PathBuf, pg_url: Option<&str>) -> anyhow::Result<Setup> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let database_url = match pg_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", dir.path().join("node.db").display()),
        };
        let env = [
            ("DATABASE__URL", database_url.clone()),
            ("SERVER__BIND", format!("127.0.0.1:{port}")),
            ("INSTANCE__DOMAIN", format!("localhost:{port}")),
            ("MEDIA__DIR", dir.path().join("media").display().to_string()),
            ("FEDERATION__DEBUG", "true".into()),
            ("FEDERATION__DELIVER", "true".into()),
            ("LOG__FILTER", "warn".into()),
        ];
        Ok(Setup {
            binary,
            env: env
                .into_iter()
                .map(|(k, v)| (format!("TIANGUIS__{k}"), v))
                .collect(),
            dir,
            base: format!("http://localhost:{port}"),
            database_url,
        })
    }

    /// `tianguis ARGS` in the data directory (so no stray `config.toml` is read).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Run a CLI command to completion, with `stdin` as its input.
    fn run(&self, args: &[&str], stdin: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.binary.display()))?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(stdin.as_bytes())?;
        let output = child.wait_with_output()?;
        let error = String::from_utf8_lossy(&output.stderr);
        ensure!(output.status.success(), "tianguis {args:?}: {error}");
        Ok(())
    }

    /// Start `tianguis serve` and wait until `/health` answers.
    async fn serve(&self, http: &reqwest::Client) -> anyhow::Result<Node> {
        let mut node = Node(
            self.command(&["serve"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()?,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = node.0.try_wait() {
                bail!("tianguis serve exited early: {status}");
            }
            let health = http.get(format!("{}/health", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(node);
            }
            ensure!(
                Instant::now() < deadline,
                "no answer on /health within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn db(&self) -> anyhow::Result<DatabaseConnection> {
        Ok(market::db::connect(&self.database_url).await?)
    }
}

/// Insert `followers` remote actors and their accepted follows of `shop_id`; follower i lives
/// on host i % inboxes, behind that host's shared inbox.
async fn seed_followers(
    db: &DatabaseConnection,
    shop_id: i32,
    Args {
        followers, inboxes, ..
    }: Args,
    port: u16,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    for chunk in (0..followers).collect::<Vec<_>>().chunks(500) {
        let actors = chunk.iter().map(|&i| {
            let host = format!("{}:{port}", host_address(i % inboxes));
            remote_actor::ActiveModel {
                ap_id: Set(format!("http://{host}/users/u{i}")),
                actor_type: Set("Person".into()),
                preferred_username: Set(Some(format!("u{i}"))),
                name: Set(format!("Follower {i}")),
                inbox: Set(format!("http://{host}/users/u{i}/inbox")),
                shared_inbox: Set(Some(format!("http://{host}/inbox"))),
                public_key_pem: Set(String::new()),
                domain: Set(host),
                last_refreshed_at: Set(now),
                ..Default::default()
            }
        });
        remote_actor::Entity::insert_many(actors).exec(db).await?;
    }
    let actors = remote_actor::Entity::find()
        .order_by_asc(remote_actor::Column::Id)
        .all(db)
        .await?;
    for chunk in actors.chunks(500) {
        let follows = chunk.iter().map(|actor| follow::ActiveModel {
            shop_id: Set(shop_id),
            remote_actor_id: Set(actor.id),
            follow_activity_id: Set(format!("{}/follows/1", actor.ap_id)),
            state: Set(follow::STATE_ACCEPTED.into()),
            created_at: Set(now),
            ..Default::default()
        });
        follow::Entity::insert_many(follows).exec(db).await?;
    }
    Ok(())
}

/// Time one signature per host with the node's signer, on this thread, over signing strings
/// like the node's (the digest is computed once, as the node does).
fn signing_bound(key: &SigningKey, hosts: &[String]) -> Duration {
    let body = format!(r#"{{"type":"Create","content":"{}"}}"#, "x".repeat(1500));
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let strings: Vec<String> = hosts
        .iter()
        .map(|host| {
            format!(
                "(request-target): post /inbox\nhost: {host}\ndate: {date}\n\
                 digest: SHA-256={digest}\ncontent-type: application/activity+json"
            )
        })
        .collect();
    let started = Instant::now();
    for string in &strings {
        std::hint::black_box(key.sign(string.as_bytes()).unwrap());
    }
    started.elapsed()
}

/// Time the steps the node takes before its first delivery by calling the same `market`
/// functions on its database once it is stopped: loading the shop's followers' inboxes,
/// queueing one delivery per inbox (for a made-up activity, left pending) and claiming the
/// first batch as the engine does. Medians of 5.
async fn node_steps_alone(setup: &Setup, shop_id: i32) -> anyhow::Result<[Duration; 3]> {
    let domain = setup.base.trim_start_matches("http://");
    let instance = market::Instance::new(domain, "Tianguis", true, setup.dir.path().into(), 1024)?;
    let ctx = market::Context::new(setup.db().await?, instance);
    let mut times = [(); 3].map(|()| Vec::new());
    for n in 0..5 {
        let started = Instant::now();
        let inboxes = followers::follower_inboxes(&ctx, shop_id).await?;
        times[0].push(started.elapsed());
        let started = Instant::now();
        let activity = format!("{}/bench/{n}", setup.base);
        let shop = format!("{}/shops/pottery", setup.base);
        let ids = deliveries::enqueue(&ctx, &activity, &shop, "{}", &inboxes).await?;
        times[1].push(started.elapsed());
        let started = Instant::now();
        let batch = federation::outbox::CONCURRENCY as u64;
        deliveries::claim_due(&ctx, "bench", batch, Some(&ids)).await?;
        times[2].push(started.elapsed());
    }
    ctx.db.close().await?;
    Ok(times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    }))
}

/// Every `Create` the sink received: by activity id, by host, how many and when the first.
#[derive(Default)]
struct Tally {
    seen: usize,
    creates: HashMap<String, HashMap<String, (usize, Instant)>>,
    invalid: usize,
    personal: usize,
}

impl Tally {
    fn update(&mut self, sink: &Sink) {
        for received in sink.received_from(self.seen) {
            self.seen += 1;
            if received.kind != "Create" {
                continue;
            }
            self.invalid += usize::from(!received.signature_valid);
            self.personal += usize::from(received.path != "/inbox");
            let hosts = self.creates.entry(received.activity_id).or_default();
            hosts.entry(received.host).or_insert((0, received.at)).0 += 1;
        }
    }

    /// When the first and the last host first received `activity`.
    fn span(&self, activity: &str) -> (Instant, Instant) {
        let times = self.creates[activity].values().map(|(_, at)| *at);
        let first = times.clone().min().unwrap_or_else(Instant::now);
        (first, times.max().unwrap_or(first))
    }
}

/// Wait until one activity not in `known` has reached all `inboxes`; its id.
async fn reach_all(
    sink: &Sink,
    tally: &mut Tally,
    known: &HashSet<String>,
    inboxes: usize,
    started: Instant,
) -> anyhow::Result<String> {
    loop {
        tally.update(sink);
        let new: Vec<&String> = tally
            .creates
            .keys()
            .filter(|id| !known.contains(*id))
            .collect();
        ensure!(new.len() <= 1, "more than one new activity: {new:?}");
        let reached = new.first().map_or(0, |id| tally.creates[*id].len());
        if reached == inboxes {
            return Ok(new[0].clone());
        }
        let timeout = RUN_TIMEOUT.as_secs();
        ensure!(
            started.elapsed() < RUN_TIMEOUT,
            "after {timeout} s the Create had reached {reached} of {inboxes} shared inboxes"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One timed run's figures.
struct Run {
    activity_id: String,
    /// When the POST was sent (wall clock, to compare with the node's timestamps).
    started_at: chrono::DateTime<chrono::Utc>,
    answered: Duration,
    first: Duration,
    wall: Duration,
    node_cpu: f64,
    bench_cpu: f64,
    bound: Duration,
}

#[tokio::main]
async fn main() {
    // target/release/examples/bench_fanout → target/release/tianguis
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("tianguis")))
        .unwrap_or_else(|| PathBuf::from("target/release/tianguis"));
    if !binary.is_file() {
        let binary = binary.display();
        eprintln!("{binary} not found: run `cargo build --release -p tianguis` first");
        std::process::exit(2);
    }
    let pg_admin = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let pg = match &pg_admin {
        Some(admin) => Some(harness::create_pg_database(admin).await),
        None => None,
    };
    let result = bench(binary, args(), pg.as_ref().map(|(url, _)| url.as_str())).await;
    if let (Some(admin), Some((_, name))) = (&pg_admin, &pg) {
        let dropped = async {
            let admin = sea_orm::Database::connect(admin).await?;
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            admin.execute_unprepared(&drop).await?;
            anyhow::Ok(())
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop the benchmark database {name}: {e}");
        }
    }
    if let Err(e) = result {
        eprintln!("fan-out benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

async fn bench(binary: PathBuf, args: Args, pg_url: Option<&str>) -> anyhow::Result<()> {
    let Args { inboxes, runs, .. } = args;
    let addresses: Vec<Ipv4Addr> = (0..inboxes).map(host_address).collect();
    let sink = Sink::spawn_on(&addresses).await;
    let hosts: Vec<String> = addresses
        .iter()
        .map(|a| format!("{a}:{}", sink.port))
        .collect();

    // The account and the shop through the CLI, the followers straight into the database.
    let setup = Setup::new(binary, pg_url)?;
    setup.run(&["migrate"], "")?;
    let user = ["user", "create", "--username", "ana", "--password-stdin"];
    setup.run(&user, PASSWORD)?;
    let shop = [
        "shop", "create", "--handle", "pottery", "--owner", "ana", "--name", "Pottery",
    ];
    setup.run(&shop, "")?;
    let db = setup.db().await?;
    let shop = shop::Entity::find()
        .filter(shop::Column::Handle.eq("pottery"))
        .one(&db)
        .await?
        .context("the shop was not created")?;
    seed_followers(&db, shop.id, args, sink.port).await?;
    db.close().await?;
    let key_id = format!("{}#main-key", shop.ap_id);
    sink.trust_key(&key_id, &shop.public_key_pem);
    let signer =
        SigningKey::from_pkcs8_pem(&key_id, &shop.private_key_pem).map_err(anyhow::Error::msg)?;

    let http = reqwest::Client::new();
    let mut node = setup.serve(&http).await?;
    let pid = node.0.id().to_string();
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", setup.base))
        .json(&serde_json::json!({"username": "ana", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"].as_str().context("no token")?.to_string();

    let mut tally = Tally::default();
    let mut results: Vec<Run> = Vec::new();
    for run in 1..=runs {
        // The bound first, in the same conditions, on this thread.
        let bound = signing_bound(&signer, &hosts);
        let known: HashSet<String> = tally.creates.keys().cloned().collect();
        let (node_cpu, bench_cpu) = (cpu_seconds(&pid), cpu_seconds("self"));
        let (started, started_at) = (Instant::now(), chrono::Utc::now());
        let created = http
            .post(format!("{}/api/v1/shops/pottery/listings", setup.base))
            .bearer_auth(&token)
            .json(&sample_listing())
            .send()
            .await?;
        ensure!(
            created.status() == 201,
            "POST listing: {}",
            created.status()
        );
        let answered = started.elapsed();
        let activity_id = reach_all(&sink, &mut tally, &known, inboxes, started).await;
        let activity_id = activity_id.with_context(|| format!("run {run}"))?;
        let (node_cpu, bench_cpu) = (
            cpu_seconds(&pid) - node_cpu,
            cpu_seconds("self") - bench_cpu,
        );
        let (first, last) = tally.span(&activity_id);
        results.push(Run {
            activity_id,
            started_at,
            answered,
            first: first - started,
            wall: last - started,
            node_cpu,
            bench_cpu,
            bound,
        });
    }

    // Give late duplicates (a retry of something already delivered) a chance to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    tally.update(&sink);
    let rss = peak_rss(node.0.id());
    node.stop();
    // When the node stored each activity: after loading the followers' inboxes, in the
    // transaction that queues its deliveries.
    let db = setup.db().await?;
    let mut stored = Vec::new();
    for run in &results {
        let activity = outbox_activity::Entity::find()
            .filter(outbox_activity::Column::ActivityId.eq(&run.activity_id))
            .one(&db)
            .await?
            .context("the activity is not stored")?;
        let after = (activity.created_at - run.started_at).to_std();
        stored.push(after.unwrap_or_default());
    }
    db.close().await?;
    let steps = node_steps_alone(&setup, shop.id).await?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let database = pg_url.map_or("SQLite", |_| "PostgreSQL");
    println!(
        "fan-out: {} followers over {inboxes} shared inboxes on as many hosts, {database}, \
         {cores} cores",
        args.followers
    );
    println!(
        "run | wall time | deliveries/s | node CPU | bench CPU (sink) | signing bound (1 core) \
         | wall/bound | wall/(bound/2) | receipts per inbox"
    );
    for (n, run) in results.iter().enumerate() {
        let counts = &tally.creates[&run.activity_id];
        let once = hosts
            .iter()
            .all(|h| counts.get(h).is_some_and(|c| c.0 == 1));
        ensure!(
            once && counts.len() == inboxes,
            "run {}: not every inbox got the Create exactly once",
            n + 1
        );
        let (wall, bound) = (run.wall.as_secs_f64(), run.bound.as_secs_f64());
        println!(
            "{} | {wall:.3} s | {:.0} | {:.2} s | {:.2} s | {bound:.3} s ({:.0} µs each) | {:.2} \
             | {:.2} | exactly 1 on each of {inboxes}",
            n + 1,
            inboxes as f64 / wall,
            run.node_cpu,
            run.bench_cpu,
            bound * 1e6 / inboxes as f64,
            wall / bound,
            wall / (bound / 2.0),
        );
    }
    println!(
        "after the POST | answered | activity stored | first receipt | last receipt | first to last"
    );
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    for (n, (run, stored)) in results.iter().zip(stored).enumerate() {
        let spread = run.wall.saturating_sub(run.first);
        let (answered, first, wall) = (ms(run.answered), ms(run.first), ms(run.wall));
        println!(
            "{} | {answered} | {} | {first} | {wall} | {}",
            n + 1,
            ms(stored),
            ms(spread)
        );
    }
    let (invalid, personal) = (tally.invalid, tally.personal);
    ensure!(
        invalid == 0,
        "{invalid} Create deliveries failed verification"
    );
    ensure!(personal == 0, "{personal} Creates went to personal inboxes");
    println!("every signature verified; peak RSS of the node: {rss}");
    println!(
        "the node's steps before its first POST, alone, after the runs: loading the followers' \
         inboxes {}, queueing {inboxes} deliveries {}, claiming the first {} {}",
        ms(steps[0]),
        ms(steps[1]),
        federation::outbox::CONCURRENCY,
        ms(steps[2])
    );
    Ok(())
}
