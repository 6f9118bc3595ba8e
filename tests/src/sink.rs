//! A delivery sink: a fake server hosting any number of actors, whose inboxes verify every
//! signature and can be told to fail (a status per request, in order). Used to test and measure
//! delivery: shared-inbox deduplication, retries, fan-out.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Instant,
};

use activitypub_federation::http_signatures::generate_actor_keypair;
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::signing::{SignedPost, verify};

/// One POST the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The inbox path (`/inbox`, `/users/u1/inbox`).
    pub path: String,
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
}

#[derive(Default)]
struct SinkState {
    base: String,
    public_key: String,
    private_key: String,
    /// Statuses to answer, per path, before answering 202.
    script: HashMap<String, VecDeque<u16>>,
    /// Public keys of senders, by key id (the sink fetches nothing).
    keys: HashMap<String, String>,
    received: Vec<Received>,
    /// How long each inbox POST takes to answer.
    delay: std::time::Duration,
    /// POSTs being answered now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
}

/// The sink server.
#[derive(Clone)]
pub struct Sink {
    /// `http://localhost:PORT`
    pub base: String,
    state: Arc<Mutex<SinkState>>,
}

impl Sink {
    /// Start a sink on a free port of `localhost`.
    pub async fn spawn() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let base = format!("http://localhost:{port}");
        let keys = generate_actor_keypair().expect("keys");
        let state = Arc::new(Mutex::new(SinkState {
            base: base.clone(),
            public_key: keys.public_key,
            private_key: keys.private_key,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox_personal))
            .route("/inbox", post(inbox_shared))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Sink { base, state }
    }

    /// The id of the sink's actor `name`. With `shared`, it advertises the sink's shared inbox.
    pub fn actor_id(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base)
    }

    /// Trust `public_key_pem` for signatures with `key_id` (a shop's key, from its actor).
    pub fn trust_key(&self, key_id: &str, public_key_pem: &str) {
        self.lock()
            .keys
            .insert(key_id.to_string(), public_key_pem.to_string());
    }

    /// Answer the next requests to `path` with these statuses, in order, then 202 again.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        self.lock()
            .script
            .insert(path.to_string(), statuses.iter().copied().collect());
    }

    /// Make every inbox POST take `delay` to answer (to observe concurrency).
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.lock().delay = delay;
    }

    /// The most inbox POSTs the sink was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Make actor `name` follow `shop` (its id) on `node_inbox`; returns the status.
    pub async fn follow(
        &self,
        client: &reqwest::Client,
        name: &str,
        shop: &str,
        node_inbox: &str,
    ) -> u16 {
        let (private, actor) = {
            let state = self.lock();
            (state.private_key.clone(), self.actor_id(name))
        };
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/follows/{}", uuid::Uuid::new_v4()),
            "type": "Follow", "actor": actor, "object": shop,
        });
        SignedPost::new(node_inbox, &follow, &format!("{actor}#main-key"), &private)
            .send(client)
            .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().expect("sink lock")
    }
}

/// Actors named `shared*` advertise the shared inbox; the others have only their own inbox.
async fn actor(
    State(state): State<Arc<Mutex<SinkState>>>,
    Path(name): Path<String>,
) -> impl IntoResponse {
    let Ok(state) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let id = format!("{}/users/{name}", state.base);
    let mut doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": "Person", "id": id, "preferredUsername": name, "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": state.public_key},
    });
    if name.starts_with("shared") {
        doc["endpoints"] = json!({"sharedInbox": format!("{}/inbox", state.base)});
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/activity+json",
        )],
        axum::Json(doc),
    )
        .into_response()
}

async fn inbox_personal(
    State(state): State<Arc<Mutex<SinkState>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    slowly(&state, format!("/users/{name}/inbox"), &headers, &body).await
}

async fn inbox_shared(
    State(state): State<Arc<Mutex<SinkState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    slowly(&state, "/inbox".to_string(), &headers, &body).await
}

/// Count the POST as in flight for the configured delay, then answer it.
async fn slowly(
    state: &Mutex<SinkState>,
    path: String,
    headers: &HeaderMap,
    body: &[u8],
) -> StatusCode {
    let delay = match state.lock() {
        Ok(mut s) => {
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            s.delay
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    tokio::time::sleep(delay).await;
    if let Ok(mut s) = state.lock() {
        s.in_flight -= 1;
    }
    receive(state, path, headers, body)
}

fn receive(state: &Mutex<SinkState>, path: String, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let Ok(mut state) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let activity: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let signature_valid = check_signature(&state.keys, &path, headers, body);
    let status = state
        .script
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or(202);
    state.received.push(Received {
        path,
        activity_id: activity["id"].as_str().unwrap_or_default().to_string(),
        kind: activity["type"].as_str().unwrap_or_default().to_string(),
        status,
        signature_valid,
        at: Instant::now(),
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED)
}

/// Draft-cavage verification: rebuild the signing string from the listed headers, check the
/// digest against the body, verify with the trusted key for `keyId`.
fn check_signature(
    keys: &HashMap<String, String>,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
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
    let Some(key) = keys.get(&key_id) else {
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
    verify(key, &signing_string, &signature)
}
