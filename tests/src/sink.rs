//! A delivery sink: a fake server hosting any number of actors, whose inboxes verify every
//! signature and can be told to fail (a status per request, in order). Used to test and measure
//! delivery: shared-inbox deduplication, retries, fan-out.
//!
//! One sink can listen on many loopback addresses at once ([`Sink::spawn_on`]), so a node sees
//! hundreds of distinct hosts; every address is served by the same state. Verification runs
//! outside the state's lock with public keys parsed once, so a fan-out is not measured against a
//! sink that verifies one request at a time.

use std::{
    collections::{HashMap, VecDeque},
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock},
    time::{Duration, Instant},
};

use activitypub_federation::http_signatures::generate_actor_keypair;
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use rsa::{
    RsaPublicKey, pkcs1::DecodeRsaPublicKey, pkcs8::DecodePublicKey, traits::PublicKeyParts,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::signing::SignedPost;

/// One POST the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The inbox path (`/inbox`, `/users/u1/inbox`).
    pub path: String,
    /// The request's `Host` header (`127.0.1.7:41234`): which of the sink's hosts it was for.
    pub host: String,
    /// The activity's id.
    pub activity_id: String,
    /// The activity's type.
    pub kind: String,
    /// The status the sink answered.
    pub status: u16,
    /// Whether the signature and digest verified against the sender's key.
    pub signature_valid: bool,
    /// When it arrived.
    pub at: Instant,
    /// The activity as received.
    pub body: Value,
}

/// A scripted answer: a status, and perhaps one response header (`retry-after`).
#[derive(Debug, Clone)]
struct Scripted {
    status: u16,
    header: Option<(String, String)>,
}

#[derive(Default)]
struct SinkState {
    base: String,
    public_key: String,
    private_key: String,
    /// Answers to give, per path, in order, before answering 202 again.
    script: HashMap<String, VecDeque<Scripted>>,
    received: Vec<Received>,
    /// How long each inbox POST takes to answer.
    delay: Duration,
    /// POSTs being answered now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
    /// How long each actor GET takes to answer, and how many there were.
    actor_delay: Duration,
    actor_fetches: usize,
}

/// A trusted key's modulus and exponent. Verified with `ring`, not with the `aws-lc-rs` the
/// node signs with (an independent check), and about five times faster than the `rsa` crate, so
/// the sink takes little of the CPU a fan-out benchmark shares with the node.
type PublicKey = RsaPublicKeyComponents<Vec<u8>>;

struct Shared {
    state: Mutex<SinkState>,
    /// Public keys of senders, parsed once, by key id (the sink fetches nothing). Read without
    /// the state lock.
    keys: RwLock<HashMap<String, Arc<PublicKey>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sink server.
#[derive(Clone)]
pub struct Sink {
    /// `http://localhost:PORT`, or `http://FIRST_IP:PORT` for a sink on many addresses.
    pub base: String,
    /// The port every address listens on.
    pub port: u16,
    shared: Arc<Shared>,
}

impl Sink {
    /// Start a sink on a free port of `localhost`.
    pub async fn spawn() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        Self::start(format!("http://localhost:{port}"), port, vec![listener])
    }

    /// Start a sink listening on every one of `addresses` (loopback addresses such as
    /// 127.0.1.1, all on `lo` on Linux), on one port common to all of them.
    pub async fn spawn_on(addresses: &[Ipv4Addr]) -> Sink {
        let first = *addresses.first().expect("at least one address");
        for _ in 0..20 {
            let listener = TcpListener::bind((first, 0)).await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let mut listeners = vec![listener];
            for address in &addresses[1..] {
                match TcpListener::bind(SocketAddr::from((*address, port))).await {
                    Ok(listener) => listeners.push(listener),
                    // Taken on this address: try another port for all of them.
                    Err(_) => break,
                }
            }
            if listeners.len() == addresses.len() {
                return Self::start(format!("http://{first}:{port}"), port, listeners);
            }
        }
        panic!("no port free on all {} addresses", addresses.len());
    }

    fn start(base: String, port: u16, listeners: Vec<TcpListener>) -> Sink {
        let keys = generate_actor_keypair().expect("keys");
        let shared = Arc::new(Shared {
            state: Mutex::new(SinkState {
                base: base.clone(),
                public_key: keys.public_key,
                private_key: keys.private_key,
                ..Default::default()
            }),
            keys: RwLock::default(),
        });
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox_personal))
            .route("/inbox", post(inbox_shared))
            .with_state(shared.clone());
        for listener in listeners {
            let app = app.clone();
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        Sink { base, port, shared }
    }

    /// The id of the sink's actor `name`. Actors named `shared*` advertise the shared inbox.
    pub fn actor_id(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base)
    }

    /// Trust `public_key_pem` (SPKI or PKCS#1 PEM) for signatures with `key_id` (a shop's key,
    /// from its actor).
    pub fn trust_key(&self, key_id: &str, public_key_pem: &str) {
        let key = RsaPublicKey::from_public_key_pem(public_key_pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(public_key_pem))
            .expect("a PEM RSA public key");
        self.shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key_id.to_string(),
                Arc::new(PublicKey {
                    n: key.n().to_bytes_be(),
                    e: key.e().to_bytes_be(),
                }),
            );
    }

    /// Answer the next requests to `path` with these statuses, in order (after any already
    /// scripted), then 202 again.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        let mut state = self.shared.lock();
        let queue = state.script.entry(path.to_string()).or_default();
        queue.extend(statuses.iter().map(|&status| Scripted {
            status,
            header: None,
        }));
    }

    /// Answer the next request to `path` (after any already scripted) with `status` and the
    /// response header `header`, e.g. `(429, ("retry-after", "3"))`.
    pub fn script_with_header(&self, path: &str, status: u16, header: (&str, &str)) {
        let mut state = self.shared.lock();
        state
            .script
            .entry(path.to_string())
            .or_default()
            .push_back(Scripted {
                status,
                header: Some((header.0.to_string(), header.1.to_string())),
            });
    }

    /// The PKCS#8 PEM private key every actor of the sink signs with now.
    pub fn private_key(&self) -> String {
        self.shared.lock().private_key.clone()
    }

    /// Give the sink's actors a new key pair (they serve its public key from now on); returns
    /// the old private key.
    pub fn rotate_key(&self) -> String {
        let keys = generate_actor_keypair().expect("keys");
        let mut state = self.shared.lock();
        state.public_key = keys.public_key;
        std::mem::replace(&mut state.private_key, keys.private_key)
    }

    /// Make every actor GET take `delay` to answer (a slow or hanging server).
    pub fn set_actor_delay(&self, delay: Duration) {
        self.shared.lock().actor_delay = delay;
    }

    /// How many actor GETs the sink answered (scripted failures included).
    pub fn actor_fetches(&self) -> usize {
        self.shared.lock().actor_fetches
    }

    /// Make every inbox POST take `delay` to answer (to observe concurrency).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// The most inbox POSTs the sink was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// How many POSTs were received so far (cheap enough to poll).
    pub fn received_count(&self) -> usize {
        self.shared.lock().received.len()
    }

    /// The POSTs received after the first `start`.
    pub fn received_from(&self, start: usize) -> Vec<Received> {
        let state = self.shared.lock();
        state.received.get(start..).unwrap_or_default().to_vec()
    }

    /// Make actor `name` follow `shop` (its id) on `node_inbox`; returns the status.
    pub async fn follow(
        &self,
        client: &reqwest::Client,
        name: &str,
        shop: &str,
        node_inbox: &str,
    ) -> u16 {
        let private = self.shared.lock().private_key.clone();
        let actor = self.actor_id(name);
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/follows/{}", uuid::Uuid::new_v4()),
            "type": "Follow", "actor": actor, "object": shop,
        });
        SignedPost::new(node_inbox, &follow, &format!("{actor}#main-key"), &private)
            .send(client)
            .await
    }
}

/// Actors named `shared*` advertise the shared inbox; the others have only their own inbox.
/// A status scripted for `/users/{name}` ([`Sink::script`]) is answered instead, once.
async fn actor(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let (base, public_key, delay, scripted) = {
        let mut state = shared.lock();
        state.actor_fetches += 1;
        let scripted = state
            .script
            .get_mut(&format!("/users/{name}"))
            .and_then(VecDeque::pop_front);
        (
            state.base.clone(),
            state.public_key.clone(),
            state.actor_delay,
            scripted,
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(scripted) = scripted {
        return StatusCode::from_u16(scripted.status)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            .into_response();
    }
    let id = format!("{base}/users/{name}");
    let mut doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": "Person", "id": id, "preferredUsername": name, "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_key},
    });
    if name.starts_with("shared") {
        doc["endpoints"] = json!({"sharedInbox": format!("{base}/inbox")});
    }
    (
        [(header::CONTENT_TYPE, "application/activity+json")],
        axum::Json(doc),
    )
        .into_response()
}

async fn inbox_personal(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&shared, format!("/users/{name}/inbox"), &headers, &body).await
}

async fn inbox_shared(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&shared, "/inbox".to_string(), &headers, &body).await
}

/// Count the POST as in flight for the configured delay, verify it (without holding the
/// state's lock), then record it and answer as scripted.
async fn receive(shared: &Shared, path: String, headers: &HeaderMap, body: &[u8]) -> Response {
    let delay = {
        let mut state = shared.lock();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let signature_valid = check_signature(shared, &path, headers, body);
    let activity: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let answer = {
        let mut state = shared.lock();
        state.in_flight -= 1;
        let answer = state
            .script
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Scripted {
                status: 202,
                header: None,
            });
        state.received.push(Received {
            path,
            host,
            activity_id: activity["id"].as_str().unwrap_or_default().to_string(),
            kind: activity["type"].as_str().unwrap_or_default().to_string(),
            status: answer.status,
            signature_valid,
            at: Instant::now(),
            body: activity.clone(),
        });
        answer
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = status.into_response();
    if let Some((name, value)) = answer.header
        && let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        )
    {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Draft-cavage verification: rebuild the signing string from the listed headers, check the
/// digest against the body, verify with the trusted key for `keyId`.
fn check_signature(shared: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let signature_header = get("signature");
    let param = |name: &str| {
        signature_header.split(',').find_map(|p| {
            p.trim()
                .strip_prefix(&format!("{name}=\""))
                .map(|v| v.trim_end_matches('"').to_string())
        })
    };
    let (Some(key_id), Some(signed), Some(signature)) =
        (param("keyId"), param("headers"), param("signature"))
    else {
        return false;
    };
    let key = shared
        .keys
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key_id)
        .cloned();
    let Some(key) = key else {
        return false;
    };
    let digest = format!(
        "SHA-256={}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
    );
    if get("digest") != digest || !signed.split(' ').any(|h| h == "digest") {
        return false;
    }
    let signing_string = signed
        .split(' ')
        .map(|h| match h {
            "(request-target)" => format!("(request-target): post {path}"),
            other => format!("{other}: {}", get(other)),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    key.verify(
        &RSA_PKCS1_2048_8192_SHA256,
        signing_string.as_bytes(),
        &signature,
    )
    .is_ok()
}
