//! The `tianguis` binary as an admin meets it: CLI commands as subprocesses in a fresh
//! directory (the embedded default, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is
//! set), then `tianguis serve` on the same data, stopped with SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};

const BIN: &str = env!("CARGO_BIN_EXE_tianguis");

/// A working directory for one test, with its database.
struct Site {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    pg: Option<(String, String)>,
}

impl Site {
    async fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mut env = Vec::new();
        let mut pg = None;
        if let Ok(admin) = std::env::var("TEST_DATABASE_URL")
            && !admin.is_empty()
        {
            let name = format!("tianguis_t_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(&admin).await.unwrap();
            conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            env.push(("TIANGUIS__DATABASE__URL".to_string(), url.to_string()));
            pg = Some((admin, name));
        }
        Site { dir, env, pg }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.args(args).current_dir(self.path());
        for (key, _) in
            std::env::vars().filter(|(k, _)| k.starts_with("TIANGUIS__") || k == "RUST_LOG")
        {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
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
        child.wait_with_output().unwrap()
    }

    /// Run a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run a command that must fail with a one-line error; returns that line.
    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_stdin(args, stdin);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            !out.status.success(),
            "{args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        stderr.trim_end().to_string()
    }

    /// Start `tianguis serve` on a free port; returns the child and its base URL (`http://IP:PORT`).
    fn serve(&self, extra_env: &[(&str, &str)]) -> (Child, String) {
        let mut child = self
            .command(&["serve"])
            .env("TIANGUIS__SERVER__BIND", "127.0.0.1:0")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve printed no address");
        let addr = line
            .strip_prefix("tianguis listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        (child, addr)
    }

    async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg {
            let conn = Database::connect(admin).await.unwrap();
            conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}

fn png(path: &Path) {
    let img = image::RgbImage::from_fn(320, 200, |x, y| image::Rgb([x as u8, y as u8, 90]));
    img.save(path).unwrap();
}

fn sigterm_and_wait(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn cli_builds_a_shop_that_serve_shows_and_sigterm_stops() {
    let site = Site::new().await;
    let out = site.run_with_stdin(
        &["user", "create", "--username", "ana", "--password-stdin"],
        "quiet harbor lantern\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    site.ok(&[
        "shop",
        "create",
        "--handle",
        "pottery",
        "--owner",
        "ana",
        "--name",
        "Ana's Pottery",
        "--bio",
        "Stoneware",
    ]);
    png(&site.path().join("mug.png"));
    let created = site.ok(&[
        "listing",
        "create",
        "--shop",
        "pottery",
        "--title",
        "Blue mug",
        "--price",
        "28.00",
        "--currency",
        "EUR",
        "--stock",
        "3",
        "--tag",
        "pottery",
        "--tag",
        "Mug",
        "--description",
        "**Hand thrown**",
        "--image",
        "mug.png",
        "--alt",
        "A blue mug on a shelf",
    ]);
    let url = created.lines().last().unwrap().to_string();
    assert!(url.starts_with("http://localhost:8080/listings/"), "{url}");

    site.ok(&[
        "shop",
        "update",
        "pottery",
        "--avatar",
        "mug.png",
        "--bio",
        "From Oaxaca",
    ]);
    let updated = site.ok(&[
        "listing", "update", &url, "--price", "30.50", "--stock", "0",
    ]);
    assert_eq!(updated.lines().last().unwrap(), url);
    assert!(
        updated.contains("30.50 EUR") && updated.contains("sold_out"),
        "{updated}"
    );
    let listed = site.ok(&["listing", "list", "--shop", "pottery"]);
    assert!(
        listed.contains(&url) && listed.contains("30.50 EUR"),
        "{listed}"
    );

    let (server, addr) = site.serve(&[("TIANGUIS__INSTANCE__NAME", "Cooperativa Sur")]);
    let base = addr;
    let (status, health) = get(&format!("{base}/health")).await;
    assert_eq!(
        (status, health.contains("\"database\":\"ok\"")),
        (200, true),
        "{health}"
    );
    let path = url.trim_start_matches("http://localhost:8080");
    let (status, page) = get(&format!("{base}{path}")).await;
    assert_eq!(status, 200);
    for expected in [
        "Blue mug",
        "30.50",
        "EUR",
        "Sold out",
        "A blue mug on a shelf",
        "<strong>Hand thrown</strong>",
        "Cooperativa Sur",
    ] {
        assert!(page.contains(expected), "listing page lacks {expected:?}");
    }
    let (status, shop) = get(&format!("{base}/shops/pottery")).await;
    assert!(
        status == 200 && shop.contains("Ana&#39;s Pottery") && shop.contains("Blue mug"),
        "{shop}"
    );
    assert!(
        shop.contains("From Oaxaca") && shop.contains("class=\"avatar\""),
        "{shop}"
    );

    // The CLI works against the database the server is using, while it runs.
    site.ok(&["listing", "withdraw", &url]);
    assert_eq!(get(&format!("{base}{path}")).await.0, 410);

    // The shop has no followers, so nothing is queued; the admin view says so.
    let status = site.ok(&["deliveries", "status"]);
    for line in [
        "pending: 0",
        "oldest pending: -",
        "given up: 0",
        "refused by the receiver: 0",
        "failing hosts: 0",
        "unavailable hosts: 0",
    ] {
        assert!(status.lines().any(|l| l == line), "{line:?} in {status}");
    }
    let retried = site.ok(&["deliveries", "retry", "mastodon.example"]);
    assert!(
        retried.starts_with("0 deliveries to mastodon.example are due now"),
        "{retried}"
    );

    let status = sigterm_and_wait(server);
    assert!(status.success(), "serve exited with {status}");
    if site.pg.is_none() {
        assert!(site.path().join("data/tianguis.db").is_file());
        let media = std::fs::read_dir(site.path().join("data/media"))
            .unwrap()
            .count();
        assert_eq!(media, 3, "the image, its thumbnail and the avatar");
    }
    site.cleanup().await;
}

#[tokio::test]
async fn bad_arguments_get_a_one_line_error_and_change_nothing() {
    let site = Site::new().await;
    let out = site.run_with_stdin(
        &["user", "create", "--username", "ana", "--password-stdin"],
        "quiet harbor lantern",
    );
    assert!(out.status.success());
    site.ok(&[
        "shop", "create", "--handle", "pottery", "--owner", "ana", "--name", "Pottery",
    ]);
    std::fs::write(site.path().join("notes.png"), "this is not an image").unwrap();
    png(&site.path().join("ok.png"));
    // Each case: the arguments, split on spaces ("_" stands for a space inside a value), and a
    // word the one-line error must contain.
    let listing = "listing create --shop pottery --title Mug --currency EUR --stock 1";
    let cases = [
        ("listing create --bogus".to_string(), "--bogus"),
        ("listing create --shop pottery --title Mug".into(), "required"),
        (format!("{listing} --price -1"), "negative"),
        (format!("{listing} --price 28.001"), "decimal places"),
        (format!("{listing} --price abc"), "price"),
        ("listing create --shop pottery --title Mug --price 1 --currency XYZ --stock 1".into(), "currency"),
        ("listing create --shop pottery --title Mug --price 1 --currency EUR --stock -1".into(), "stock"),
        ("listing create --shop nosuch --title Mug --price 1 --currency EUR --stock 1".into(), "shop not found"),
        (format!("{listing} --price 1 --image ok.png"), "--alt"),
        (format!("{listing} --price 1 --image notes.png --alt x"), "not an image"),
        (format!("{listing} --price 1 --image ok.png --alt fine --image notes.png --alt x"), "not an image"),
        (format!("{listing} --price 1 --image missing.png --alt x"), "missing.png"),
        (format!("{listing} --price 1 --tag two_words"), "tag"),
        (
            "listing update https://elsewhere.example/listings/4c1b5e0e-8f55-4f4e-9d8e-2b0f3c1d2e3f --stock 2".into(),
            "not a listing URL",
        ),
        (
            "listing withdraw http://localhost:8080/listings/4c1b5e0e-8f55-4f4e-9d8e-2b0f3c1d2e3f".into(),
            "listing not found",
        ),
        ("shop create --handle pottery --owner ana --name Again".into(), "taken"),
        ("shop create --handle Bad_Handle! --owner ana --name X".into(), "handle"),
        ("shop create --handle weaving --owner nobody --name X".into(), "nobody"),
        ("shop create --handle weaving --owner ana --name X --avatar notes.png".into(), "not an image"),
        ("user create --username bo".into(), "--password-stdin"),
        ("--config /nonexistent/tianguis.toml listing list".into(), "does not exist"),
    ];
    for (line, expected) in &cases {
        let args: Vec<String> = line.split(' ').map(|a| a.replace('_', " ")).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let error = site.fails(&args, "");
        assert!(
            error.contains(expected),
            "{args:?}: {error:?} lacks {expected:?}"
        );
    }
    let short = site.fails(
        &["user", "create", "--username", "bo", "--password-stdin"],
        "short",
    );
    assert!(short.contains("at least 8"), "{short}");
    // The strength rule of the API and the register form: common or built from the username.
    for (weak, why) in [("password", "common password"), ("bo2024bo", "")] {
        let refused = site.fails(
            &["user", "create", "--username", "bo", "--password-stdin"],
            weak,
        );
        assert!(refused.contains("too easy to guess"), "{weak}: {refused}");
        assert!(refused.contains(why), "{weak}: {refused}");
    }
    let taken = site.fails(
        &["user", "create", "--username", "ana", "--password-stdin"],
        "another quiet lantern",
    );
    assert!(taken.contains("taken"), "{taken}");

    // Nothing was half-written: no listing, no stray image file, one shop, one user.
    assert_eq!(site.ok(&["listing", "list", "--all"]), "");
    assert_eq!(site.ok(&["shop", "list"]).lines().count(), 1);
    assert_eq!(site.ok(&["user", "list"]).lines().count(), 1);
    if site.pg.is_none() {
        assert_eq!(
            std::fs::read_dir(site.path().join("data/media"))
                .unwrap()
                .count(),
            0
        );
    }
    site.cleanup().await;
}

#[tokio::test]
async fn config_file_and_environment_are_read_and_json_logs_are_json() {
    let site = Site::new().await;
    std::fs::write(
        site.path().join("site.toml"),
        "[instance]\ndomain = \"market.coop.example\"\nname = \"From the file\"\n[log]\nformat = \"json\"\n",
    )
    .unwrap();
    let out = site.run_with_stdin(
        &[
            "--config",
            "site.toml",
            "user",
            "create",
            "--username",
            "ana",
            "--password-stdin",
        ],
        "quiet harbor lantern",
    );
    assert!(out.status.success());
    let created = site.ok(&[
        "shop",
        "create",
        "--config",
        "site.toml",
        "--handle",
        "pottery",
        "--owner",
        "ana",
        "--name",
        "P",
    ]);
    assert!(
        created.contains("https://market.coop.example/shops/pottery"),
        "{created}"
    );

    let (mut server, addr) = site.serve(&[("TIANGUIS__INSTANCE__NAME", "From the environment")]);
    // serve without --config reads ./config.toml only; this one has none, so the defaults plus
    // the environment apply.
    let (_, home) = get(&format!("{addr}/")).await;
    assert!(home.contains("From the environment"), "{home}");
    let status = sigterm_and_wait(server);
    assert!(status.success());

    std::fs::copy(
        site.path().join("site.toml"),
        site.path().join("config.toml"),
    )
    .unwrap();
    let (child, addr) = site.serve(&[]);
    server = child;
    let (_, home) = get(&format!("{addr}/")).await;
    assert!(home.contains("From the file"), "{home}");
    sigterm_and_wait_collect_json(server);
    site.cleanup().await;
}

fn sigterm_and_wait_collect_json(mut child: Child) {
    let stderr = child.stderr.take().unwrap();
    let status = sigterm_and_wait(child);
    assert!(status.success());
    let lines: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let parsed: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
}

#[tokio::test]
async fn the_domain_blocklist_round_trips_through_mastodon_csv() {
    let site = Site::new().await;
    site.ok(&["migrate"]);
    let blocked = site.ok(&["domain", "block", "Spam.Example", "--reason", "spam, scams"]);
    assert!(
        blocked.starts_with("blocked spam.example: forgot 0 actors"),
        "{blocked}"
    );
    site.ok(&["domain", "block", "*.bad.example"]);
    assert_eq!(
        site.ok(&["domain", "list"]),
        "*.bad.example\nspam.example\tspam, scams\n"
    );
    let csv = site.ok(&["domain", "export"]);
    assert_eq!(
        csv,
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
         *.bad.example,suspend,true,true,,false\n\
         spam.example,suspend,true,true,\"spam, scams\",false\n"
    );

    // Mastodon's export: suspend entries are blocked, silence ones skipped.
    let file = site.path().join("blocks.csv");
    std::fs::write(
        &file,
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
         gab.example,suspend,true,true,\"Hate, harassment\",false\n\
         loud.example,silence,false,false,,false\n",
    )
    .unwrap();
    let imported = site.ok(&["domain", "import", file.to_str().unwrap()]);
    assert!(
        imported.starts_with("blocked 1 domains, skipped 1"),
        "{imported}"
    );
    assert!(
        site.ok(&["domain", "list"])
            .contains("gab.example\tHate, harassment")
    );

    // Refusals: one line each, nothing written.
    assert!(
        site.fails(&["domain", "block", "https://x.example/path"], "")
            .contains("domain")
    );
    assert!(
        site.fails(&["domain", "unblock", "never.example"], "")
            .contains("not blocked")
    );
    std::fs::write(&file, "gab2.example,suspend\nnot a domain,suspend\n").unwrap();
    let refused = site.fails(&["domain", "import", file.to_str().unwrap()], "");
    assert!(refused.contains("line 2"), "{refused}");
    assert!(
        !site.ok(&["domain", "list"]).contains("gab2.example"),
        "nothing half-imported"
    );
    site.ok(&["domain", "unblock", "SPAM.example"]);
    assert!(!site.ok(&["domain", "list"]).contains("spam.example"));
    site.cleanup().await;
}

#[tokio::test]
async fn order_list_and_show_print_what_the_node_holds() {
    let site = Site::new().await;
    let out = site.run_with_stdin(
        &["user", "create", "--username", "ana", "--password-stdin"],
        "quiet harbor lantern\n",
    );
    assert!(out.status.success());
    site.ok(&[
        "shop",
        "create",
        "--handle",
        "pottery",
        "--owner",
        "ana",
        "--name",
        "Ana's Pottery",
    ]);
    site.ok(&[
        "listing",
        "create",
        "--shop",
        "pottery",
        "--title",
        "Blue mug",
        "--price",
        "28.00",
        "--currency",
        "EUR",
        "--stock",
        "3",
    ]);
    assert_eq!(site.ok(&["order", "list"]), "", "no orders yet");

    // A buyer orders through the API of the running node (the shop set no shipping options, so
    // the goods are handed over as arranged: no address).
    let (child, addr) = site.serve(&[]);
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{addr}/api/v1{path}");
    let registered = client
        .post(api("/accounts"))
        .json(&serde_json::json!({"username": "bruno", "password": "a long enough secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login: serde_json::Value = client
        .post(api("/auth/login"))
        .json(&serde_json::json!({"username": "bruno", "password": "a long enough secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let found: serde_json::Value = client
        .get(api("/catalog?q=mug"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = found["items"][0]["id"].clone();
    let quote: serde_json::Value = client
        .post(api("/orders/quote"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"listing": entry, "quantity": 2, "shipping_option": "arranged"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quote["total"], "56.00", "{quote}");
    let placed = client
        .post(api("/orders"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"listing": entry, "quantity": 2,
                                  "shipping_option": "arranged", "total": "56.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let placed: serde_json::Value = placed.json().await.unwrap();
    let id = placed["id"].as_str().unwrap().to_string();
    assert!(sigterm_and_wait(child).success());

    let listed = site.ok(&["order", "list"]);
    let fields: Vec<&str> = listed.trim_end().split('\t').collect();
    assert_eq!(fields[0], id);
    assert_eq!(fields[1], "accepted");
    assert!(fields[3].starts_with("bruno@"), "{listed}");
    assert!(fields[4].starts_with("pottery@"), "{listed}");
    assert_eq!(fields[5], "2 × Blue mug");
    assert_eq!(fields[6], "56.00 EUR");
    assert_eq!(site.ok(&["order", "list", "--state", "paid"]), "");
    assert_eq!(site.ok(&["order", "list", "--shop", "pottery"]), listed);
    let shown = site.ok(&["order", "show", &id]);
    assert!(shown.contains("state:     accepted"), "{shown}");
    assert!(
        shown.contains("items:     2 × 28.00 = 56.00 EUR"),
        "{shown}"
    );
    assert!(shown.contains("Arranged with the shop"), "{shown}");
    assert!(shown.contains("offered    by buyer"), "{shown}");
    assert!(shown.contains("accepted   by seller"), "{shown}");

    // Refusals: one line each.
    assert!(
        site.fails(&["order", "list", "--state", "teleported"], "")
            .contains("teleported")
    );
    assert!(
        site.fails(&["order", "show", "nope"], "")
            .contains("not an order id")
    );
    assert!(
        site.fails(&["order", "show", &uuid::Uuid::new_v4().to_string()], "")
            .contains("not found")
    );

    // The ledger: an accepted order books nothing yet (only the founders' member shares are
    // there); an operating cost does.
    let before = site.ok(&["ledger", "export"]);
    assert!(
        before.lines().skip(1).all(|l| l.contains(",share,")),
        "only member shares: {before}"
    );
    let booked = site.ok(&[
        "ledger",
        "cost",
        "--amount",
        "12.00",
        "--currency",
        "EUR",
        "--memo",
        "hosting, November",
    ]);
    assert!(
        booked.starts_with("booked entry ") && booked.contains(": 12.00 EUR"),
        "{booked}"
    );
    let balance = site.ok(&["ledger", "balance"]);
    assert!(
        balance.contains("EUR\texpenses:operating\tdebit 12.00\tcredit 0.00"),
        "{balance}"
    );
    let shares = (before.lines().count() - 1) as i64 / 2;
    assert!(
        balance.contains(&format!(
            "EUR: balanced ({} minor units each side)",
            1200 + 2000 * shares
        )),
        "{balance}"
    );
    let csv = site.ok(&["ledger", "export"]);
    assert_eq!(csv.lines().count(), before.lines().count() + 2);
    assert!(
        csv.contains(",cost,,EUR,assets:cash,0.00,12.00,\"hosting, November\""),
        "{csv}"
    );
    assert!(
        site.fails(
            &[
                "ledger",
                "cost",
                "--amount",
                "1.234",
                "--currency",
                "EUR",
                "--memo",
                "x"
            ],
            ""
        )
        .contains("amount: EUR allows 2 decimal places")
    );
    site.cleanup().await;
}
