//! A minimal ActivityPub server to federate with in tests: one `Person` (`alice`) with an inbox
//! that accepts only activities whose HTTP signature verifies against the sender's key, fetched
//! from the sender. Built on `activitypub_federation` like a real peer, on a real port.

use std::sync::{Arc, Mutex};

use activitypub_federation::{
    activity_sending::SendActivityTask,
    axum::inbox::{ActivityData, receive_activity},
    config::{Data, FederationConfig, FederationMiddleware},
    fetch::{object_id::ObjectId, webfinger::webfinger_resolve_actor},
    http_signatures::generate_actor_keypair,
    kinds::activity::{FollowType, UndoType},
    protocol::{context::WithContext, public_key::PublicKey},
    traits::{Activity, Actor, Object},
};
use axum::{
    Router,
    extract::State,
    response::IntoResponse,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

/// What the peer remembers.
#[derive(Clone, Default)]
pub struct PeerState {
    inner: Arc<Mutex<PeerInner>>,
}

#[derive(Default)]
struct PeerInner {
    base: String,
    private_key: String,
    public_key: String,
    bob_public_key: String,
    /// Verified activities, in arrival order.
    received: Vec<Value>,
    /// Actors fetched (shops), by id.
    actors: Vec<RemoteShopJson>,
    /// How many times anyone fetched one of the peer's actors.
    actor_fetches: usize,
    /// The `keyId`s of signed fetches of the peer's actors.
    fetch_key_ids: Vec<String>,
}

/// The peer server.
pub struct Peer {
    /// `http://localhost:PORT`
    pub base: String,
    config: FederationConfig<PeerState>,
    port: u16,
}

/// A shop as the peer sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteShopJson {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: ObjectId<RemoteShop>,
    pub preferred_username: String,
    pub inbox: Url,
    pub public_key: PublicKey,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// A shop, fetched by the peer.
#[derive(Debug, Clone)]
pub struct RemoteShop(pub RemoteShopJson);

/// Why the peer failed (the node's refusal, a bad signature, ...).
#[derive(Debug)]
pub struct PeerError(pub String);

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! peer_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for PeerError {
            fn from(e: $t) -> Self {
                PeerError(e.to_string())
            }
        }
    )*};
}
peer_error_from!(
    activitypub_federation::error::Error,
    serde_json::Error,
    url::ParseError
);

#[async_trait::async_trait]
impl Object for RemoteShop {
    type DataType = PeerState;
    type Kind = RemoteShopJson;
    type Error = PeerError;

    fn id(&self) -> &Url {
        self.0.id.inner()
    }

    async fn read_from_id(id: Url, data: &Data<PeerState>) -> Result<Option<Self>, PeerError> {
        let inner = data.inner.lock().map_err(|e| PeerError(e.to_string()))?;
        Ok(inner
            .actors
            .iter()
            .find(|a| a.id.inner() == &id)
            .cloned()
            .map(RemoteShop))
    }

    async fn into_json(self, _: &Data<PeerState>) -> Result<RemoteShopJson, PeerError> {
        Ok(self.0)
    }

    async fn verify(
        json: &RemoteShopJson,
        expected: &Url,
        _: &Data<PeerState>,
    ) -> Result<(), PeerError> {
        activitypub_federation::protocol::verification::verify_domains_match(
            json.id.inner(),
            expected,
        )?;
        Ok(())
    }

    async fn from_json(json: RemoteShopJson, data: &Data<PeerState>) -> Result<Self, PeerError> {
        let mut inner = data.inner.lock().map_err(|e| PeerError(e.to_string()))?;
        inner.actors.retain(|a| a.id != json.id);
        inner.actors.push(json.clone());
        Ok(RemoteShop(json))
    }
}

impl Actor for RemoteShop {
    fn public_key_pem(&self) -> &str {
        &self.0.public_key.public_key_pem
    }
    fn private_key_pem(&self) -> Option<String> {
        None
    }
    fn inbox(&self) -> Url {
        self.0.inbox.clone()
    }
}

/// Alice, the peer's one local actor, used to sign what the peer sends.
#[derive(Debug, Clone)]
pub struct Alice {
    id: Url,
    inbox: Url,
    public_key: String,
    private_key: String,
}

#[async_trait::async_trait]
impl Object for Alice {
    type DataType = PeerState;
    type Kind = Value;
    type Error = PeerError;
    fn id(&self) -> &Url {
        &self.id
    }
    async fn read_from_id(_: Url, _: &Data<PeerState>) -> Result<Option<Self>, PeerError> {
        Ok(None)
    }
    async fn into_json(self, _: &Data<PeerState>) -> Result<Value, PeerError> {
        Ok(Value::Null)
    }
    async fn verify(_: &Value, _: &Url, _: &Data<PeerState>) -> Result<(), PeerError> {
        Ok(())
    }
    async fn from_json(_: Value, _: &Data<PeerState>) -> Result<Self, PeerError> {
        Err(PeerError("no".into()))
    }
}

impl Actor for Alice {
    fn public_key_pem(&self) -> &str {
        &self.public_key
    }
    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_key.clone())
    }
    fn inbox(&self) -> Url {
        self.inbox.clone()
    }
}

/// Any activity a shop sends the peer; kept after its signature verified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incoming {
    pub id: Url,
    pub actor: ObjectId<RemoteShop>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

#[async_trait::async_trait]
impl Activity for Incoming {
    type DataType = PeerState;
    type Error = PeerError;
    fn id(&self) -> &Url {
        &self.id
    }
    fn actor(&self) -> &Url {
        self.actor.inner()
    }
    async fn verify(&self, _: &Data<PeerState>) -> Result<(), PeerError> {
        Ok(())
    }
    async fn receive(self, data: &Data<PeerState>) -> Result<(), PeerError> {
        let value = serde_json::to_value(&self)?;
        data.inner
            .lock()
            .map_err(|e| PeerError(e.to_string()))?
            .received
            .push(value);
        Ok(())
    }
}

async fn inbox(data: Data<PeerState>, activity: ActivityData) -> impl IntoResponse {
    match receive_activity::<WithContext<Incoming>, RemoteShop, PeerState>(activity, &data).await {
        Ok(()) => axum::http::StatusCode::ACCEPTED,
        Err(e) => {
            eprintln!("peer refused an activity: {}", e.0);
            axum::http::StatusCode::UNAUTHORIZED
        }
    }
}

async fn alice_json(
    State(state): State<PeerState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    person_json(&state, "alice", &headers)
}

async fn bob_json(
    State(state): State<PeerState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    person_json(&state, "bob", &headers)
}

fn person_json(
    state: &PeerState,
    name: &str,
    headers: &axum::http::HeaderMap,
) -> axum::response::Response {
    let key_id = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|sig| sig.split("keyId=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    let inner = state.inner.lock().map(|mut i| {
        i.actor_fetches += 1;
        if let Some(key_id) = key_id {
            i.fetch_key_ids.push(key_id);
        }
        let key = if name == "bob" {
            i.bob_public_key.clone()
        } else {
            i.public_key.clone()
        };
        (i.base.clone(), key)
    });
    let Ok((base, key)) = inner else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let id = format!("{base}/users/{name}");
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/activity+json",
        )],
        axum::Json(json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "type": "Person",
            "id": id,
            "preferredUsername": name,
            "name": format!("{name} <b>Peer</b>"),
            "inbox": format!("{id}/inbox"),
            "endpoints": {"sharedInbox": format!("{base}/inbox")},
            "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": key},
        })),
    )
        .into_response()
}

impl Peer {
    /// Start the peer on a free port of `localhost`.
    pub async fn spawn() -> Peer {
        Self::spawn_named("localhost").await
    }

    /// Start the peer on a free port, naming itself `host` (which the node under test must
    /// resolve to 127.0.0.1, see `federation.resolve`).
    pub async fn spawn_named(host: &str) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let base = format!("http://{host}:{port}");
        let keys = generate_actor_keypair().expect("keys");
        let state = PeerState::default();
        {
            let mut inner = state.inner.lock().expect("lock");
            inner.base = base.clone();
            inner.private_key = keys.private_key;
            inner.public_key = keys.public_key;
            inner.bob_public_key = generate_actor_keypair().expect("keys").public_key;
        }
        let config = FederationConfig::builder()
            .domain(format!("{host}:{port}"))
            .app_data(state.clone())
            .debug(true)
            .build()
            .await
            .expect("peer config");
        let app = Router::new()
            .route("/users/alice", get(alice_json))
            .route("/users/alice/inbox", post(inbox))
            .route("/users/bob", get(bob_json))
            .route("/inbox", post(inbox))
            .layer(FederationMiddleware::new(config.clone()))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Peer { base, config, port }
    }

    /// The peer's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Alice's private key (PKCS#8 PEM), for hand-made signed requests.
    pub fn alice_private_key(&self) -> String {
        let data = self.config.to_request_data();
        let inner = data.app_data().inner.lock().expect("lock");
        inner.private_key.clone()
    }

    /// Alice's public key (SPKI PEM).
    pub fn alice_public_key(&self) -> String {
        let data = self.config.to_request_data();
        let inner = data.app_data().inner.lock().expect("lock");
        inner.public_key.clone()
    }

    /// Alice's key id.
    pub fn alice_key_id(&self) -> String {
        format!("{}#main-key", self.alice_id())
    }

    /// Bob's actor id: another actor of the peer, with a key of his own.
    pub fn bob_id(&self) -> Url {
        Url::parse(&format!("{}/users/bob", self.base)).expect("url")
    }

    /// Alice's actor id.
    pub fn alice_id(&self) -> Url {
        Url::parse(&format!("{}/users/alice", self.base)).expect("url")
    }

    fn alice(&self) -> Alice {
        let data = self.config.to_request_data();
        let (public_key, private_key) = {
            let inner = data.app_data().inner.lock().expect("lock");
            (inner.public_key.clone(), inner.private_key.clone())
        };
        Alice {
            id: self.alice_id(),
            inbox: Url::parse(&format!("{}/users/alice/inbox", self.base)).expect("url"),
            public_key,
            private_key,
        }
    }

    /// Resolve `handle@domain` by WebFinger and fetch the actor, as Mastodon's search does.
    pub async fn resolve(&self, acct: &str) -> Result<RemoteShop, PeerError> {
        let data = self.config.to_request_data();
        webfinger_resolve_actor::<PeerState, RemoteShop>(acct, &data).await
    }

    /// Sign and send `activity` (JSON with an `id`) from Alice to `inbox`; the node's answer is
    /// returned as an error if it is not 2xx.
    pub async fn send(&self, activity: Value, inbox: &Url) -> Result<(), PeerError> {
        let data = self.config.to_request_data();
        let activity: WithContext<Incoming> = serde_json::from_value(activity)?;
        let tasks =
            SendActivityTask::prepare(&activity, &self.alice(), vec![inbox.clone()], &data).await?;
        for task in tasks {
            task.sign_and_send(&data).await?;
        }
        Ok(())
    }

    /// Follow a shop: returns the Follow's id.
    pub async fn follow(&self, shop: &RemoteShop) -> Result<Url, PeerError> {
        let id = Url::parse(&format!("{}/follows/{}", self.base, uuid::Uuid::new_v4()))?;
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": FollowType::Follow, "actor": self.alice_id(), "object": shop.0.id,
        });
        self.send(follow, &shop.0.inbox).await?;
        Ok(id)
    }

    /// Undo a follow, with the Follow embedded (as Mastodon does).
    pub async fn unfollow(&self, shop: &RemoteShop, follow_id: &Url) -> Result<(), PeerError> {
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{follow_id}/undo"), "type": UndoType::Undo, "actor": self.alice_id(),
            "object": {"id": follow_id, "type": "Follow", "actor": self.alice_id(), "object": shop.0.id},
        });
        self.send(undo, &shop.0.inbox).await
    }

    /// How many times the peer's actors were fetched.
    pub fn actor_fetches(&self) -> usize {
        let data = self.config.to_request_data();
        let inner = data.app_data().inner.lock().expect("lock");
        inner.actor_fetches
    }

    /// The `keyId`s that signed fetches of the peer's actors.
    pub fn fetch_key_ids(&self) -> Vec<String> {
        let data = self.config.to_request_data();
        let inner = data.app_data().inner.lock().expect("lock");
        inner.fetch_key_ids.clone()
    }

    /// Activities received so far (signatures verified), oldest first.
    pub fn received(&self) -> Vec<Value> {
        let data = self.config.to_request_data();
        let inner = data.app_data().inner.lock().expect("lock");
        inner.received.clone()
    }

    /// Received activities of one type.
    pub fn received_of(&self, kind: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|a| a["type"] == kind)
            .collect()
    }
}
