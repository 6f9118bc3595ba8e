//! The test harness: real nodes on port 0, each with its own database, driven over HTTP.
//!
//! A node's database is in-memory SQLite, or, when `TEST_DATABASE_URL` points at a PostgreSQL
//! server, a fresh database created for that node (and dropped by [`TestNode::shutdown`]).
//! Set `TEST_LOG=1` to see the nodes' logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod image_host;
pub mod metadata;
pub mod optional;
pub mod peer;
pub mod process;
pub mod procfs;
pub mod signing;
pub mod sink;

use std::{path::PathBuf, sync::Once};

use market::{
    service::accounts,
    types::{Password, Username},
};
use reqwest::{Response, multipart};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use server::{Application, Config};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
                .with_test_writer()
                .try_init();
        }
    });
}

/// Where a test node keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// In-memory SQLite, or a fresh PostgreSQL database if `TEST_DATABASE_URL` is set.
    Default,
    /// A SQLite file in the node's temporary directory, or PostgreSQL if `TEST_DATABASE_URL` is
    /// set: data that survives a restart either way.
    Durable,
}

/// Bind loopback at `port`; a port just released may take a moment to be free again.
async fn bind(port: u16) -> TcpListener {
    for _ in 0..50 {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(_) if port != 0 => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            Err(e) => panic!("binding a loopback port: {e}"),
        }
    }
    panic!("port {port} stayed busy for 5 s");
}

/// A running node.
pub struct TestNode {
    /// `http://localhost:PORT`
    pub base: String,
    /// `localhost:PORT`
    pub domain: String,
    /// HTTP client (no redirects followed, so tests see them).
    pub http: reqwest::Client,
    /// The node's context, for reading its database directly.
    pub ctx: market::Context,
    /// The configuration it runs with.
    pub config: Config,
    /// Its federation configuration.
    pub federation: federation::FederationConfig<market::Context>,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestNode {
    /// A node with the default test configuration.
    pub async fn spawn() -> TestNode {
        Self::spawn_with(Storage::Default, |_| {}).await
    }

    /// A node whose configuration `adjust` may change before it starts.
    pub async fn spawn_with(storage: Storage, adjust: impl FnOnce(&mut Config)) -> TestNode {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests();
        config.media.dir = dir.path().join("media");
        let mut pg_database = None;
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let (url, name) = create_pg_database(&admin_url).await;
                config.database.url = url;
                pg_database = Some(name);
            }
            _ if storage == Storage::Durable => {
                config.database.url = format!("sqlite://{}", dir.path().join("node.db").display());
            }
            _ => {}
        }
        adjust(&mut config);
        Self::start(config, dir, pg_database, 0).await
    }

    /// Start on `port` (0: any free one).
    async fn start(
        mut config: Config,
        dir: tempfile::TempDir,
        pg_database: Option<String>,
        port: u16,
    ) -> TestNode {
        let listener = bind(port).await;
        let port = listener.local_addr().unwrap().port();
        // activitypub_federation wants a domain, not an IP: localhost:PORT.
        config.instance.domain = format!("localhost:{port}");
        let app = Application::build_with_listener(config.clone(), listener)
            .await
            .unwrap();
        let ctx = app.context().clone();
        let federation = app.federation().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestNode {
            base: format!("http://localhost:{port}"),
            domain: format!("localhost:{port}"),
            http,
            ctx,
            config,
            federation,
            dir,
            pg_database,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The node's temporary directory (media, SQLite file).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.ctx.db.clone().close().await.unwrap();
    }

    /// Stop the node (gracefully) and start it again on the same port (so the same domain)
    /// with the same database and media directory. Only meaningful with [`Storage::Durable`].
    pub async fn restart(mut self) -> TestNode {
        self.stop_server().await;
        let config = self.config.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let pg = self.pg_database.take();
        let port = self.domain.rsplit(':').next().unwrap().parse().unwrap();
        Self::start(config, dir, pg, port).await
    }

    /// Stop the node and drop its PostgreSQL database, if any.
    pub async fn shutdown(mut self) {
        self.stop_server().await;
        if let (Some(name), Ok(admin_url)) =
            (self.pg_database.take(), std::env::var("TEST_DATABASE_URL"))
        {
            let admin = Database::connect(&admin_url).await.unwrap();
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .unwrap();
        }
    }

    /// Deliver every pending listing activity now (the background worker would within seconds).
    pub async fn deliver_pending(&self) -> usize {
        let data = self.federation.to_request_data();
        federation::outbox::deliver_pending(&data).await.unwrap()
    }

    /// An absolute URL on this node.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Create an account directly (as `tianguis user create` does) and log it in.
    pub async fn member(&self, username: &str) -> Member {
        self.account(username, false).await
    }

    /// Create an admin account and log it in.
    pub async fn admin(&self, username: &str) -> Member {
        self.account(username, true).await
    }

    async fn account(&self, username: &str, admin: bool) -> Member {
        accounts::create_user(
            &self.ctx,
            &Username::parse(username).unwrap(),
            &Password::parse(PASSWORD).unwrap(),
            admin,
        )
        .await
        .unwrap();
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        Member {
            username: username.to_string(),
            token: body["token"].as_str().unwrap().to_string(),
        }
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": username, "password": password}),
        )
        .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// `GET path`, optionally with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// `GET url` as an ActivityPub client (`Accept: application/activity+json`): the status and
    /// the JSON body (`Null` when it is not JSON).
    pub async fn get_ap(&self, url: &str) -> (u16, Value) {
        let response = self
            .http
            .get(url)
            .header("accept", "application/activity+json")
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    /// `POST /api/v1/shops`.
    pub async fn create_shop(&self, member: &Member, handle: &str, name: &str) -> Response {
        self.post_json(
            "/api/v1/shops",
            Some(&member.token),
            &json!({"handle": handle, "name": name}),
        )
        .await
    }

    /// `POST /api/v1/shops/{shop}/listings`.
    pub async fn create_listing(&self, member: &Member, shop: &str, body: &Value) -> Response {
        self.post_json(
            &format!("/api/v1/shops/{shop}/listings"),
            Some(&member.token),
            body,
        )
        .await
    }

    /// Open a shop and publish one listing in it; returns the listing JSON.
    pub async fn shop_with_listing(&self, member: &Member, shop: &str) -> Value {
        let response = self.create_shop(member, shop, "A shop").await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let response = self.create_listing(member, shop, &sample_listing()).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// `PATCH /api/v1/listings/{id}`.
    pub async fn update_listing(&self, member: &Member, id: &str, body: &Value) -> Response {
        self.patch_json(&format!("/api/v1/listings/{id}"), Some(&member.token), body)
            .await
    }

    /// `GET /api/v1/listings/{id}`.
    pub async fn listing(&self, id: &str) -> Response {
        self.get(&format!("/api/v1/listings/{id}"), None).await
    }

    /// `POST /api/v1/listings/{id}/images` with a file and alt text.
    pub async fn upload_image(
        &self,
        member: &Member,
        id: &str,
        bytes: Vec<u8>,
        alt: Option<&str>,
    ) -> Response {
        let mut form = multipart::Form::new().part(
            "file",
            multipart::Part::bytes(bytes)
                .file_name("photo")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
        if let Some(alt) = alt {
            form = form.text("alt", alt.to_string());
        }
        self.http
            .post(self.url(&format!("/api/v1/listings/{id}/images")))
            .bearer_auth(&member.token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// A logged-in account.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its username.
    pub username: String,
    /// Its API token.
    pub token: String,
}

/// A valid listing body.
pub fn sample_listing() -> Value {
    json!({
        "title": "Blue glazed mug",
        "description": "Hand thrown **stoneware**, 350 ml.",
        "price": "28.00",
        "currency": "EUR",
        "stock": 3,
        "tags": ["pottery", "mug"],
    })
}

/// A PNG image of `width` × `height` pixels.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG image of `width` × `height` pixels.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(width, height, |x, _| image::Rgb([200, (x % 256) as u8, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A colour JPEG of `width` × `height` pixels of smooth gradients, as a photo of a plain
/// surface: small on disk (about 0.15 bytes a pixel) but decoded in full like any photo.
pub fn gradient_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x / 32 % 256) as u8,
            (y / 24 % 256) as u8,
            ((x + y) / 64 % 256) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out.into_inner()
}

/// Create `tianguis_t_<uuid>` on the server `admin_url` points at; return its URL and name.
pub async fn create_pg_database(admin_url: &str) -> (String, String) {
    let name = format!("tianguis_t_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

/// Wait until `condition` holds, checking every 50 ms, for at most `timeout`; false if it never
/// did. For effects of background work (the delivery worker), never as a plain sleep.
pub async fn eventually(timeout: std::time::Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
