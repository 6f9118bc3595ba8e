//! A peer's media server: serves whatever a test puts at a path (status, content type, body, or
//! an endless image), counts the requests per path, and can hold a request until the test lets
//! it go (to change things while a node waits for the answer).

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt as _;
use tokio::{net::TcpListener, sync::oneshot};

#[derive(Clone)]
enum Answer {
    Fixed {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    /// An `image/png` body without a length that never ends.
    Endless,
}

/// A request held until the test releases it.
struct Hold {
    arrived: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

#[derive(Default)]
struct HostState {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
    holds: HashMap<String, Hold>,
}

struct Shared {
    state: Mutex<HostState>,
    /// Bytes of endless bodies handed to the connection so far.
    endless_sent: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server.
#[derive(Clone)]
pub struct ImageHost {
    /// `http://localhost:PORT`
    pub base: String,
    /// `localhost:PORT`: the node its listings come from.
    pub domain: String,
    shared: Arc<Shared>,
}

/// A held request: [`Held::arrived`] resolves when it came in, [`Held::release`] answers it.
pub struct Held {
    arrived: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Wait until the held request has arrived.
    pub async fn arrived(&mut self) {
        (&mut self.arrived).await.expect("the image host stopped");
    }

    /// Let the held request be answered.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

impl ImageHost {
    /// Start a server on a free port of `localhost`; every path is 404 until given an answer.
    pub async fn spawn() -> ImageHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            endless_sent: AtomicU64::new(0),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        ImageHost {
            base: format!("http://localhost:{port}"),
            domain: format!("localhost:{port}"),
            shared,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answer GET `path` with `status`, `content_type` and `body`.
    pub fn serve(&self, path: &str, status: u16, content_type: &str, body: Vec<u8>) {
        self.shared.lock().answers.insert(
            path.to_string(),
            Answer::Fixed {
                status,
                content_type: content_type.to_string(),
                body: Bytes::from(body),
            },
        );
    }

    /// Answer GET `path` with 200 `image/png` and a body that never ends (chunked, no length).
    pub fn serve_endless(&self, path: &str) {
        self.shared
            .lock()
            .answers
            .insert(path.to_string(), Answer::Endless);
    }

    /// Hold the next request to `path` until the returned [`Held`] is released.
    pub fn hold(&self, path: &str) -> Held {
        let (arrived_tx, arrived_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        self.shared.lock().holds.insert(
            path.to_string(),
            Hold {
                arrived: arrived_tx,
                release: release_rx,
            },
        );
        Held {
            arrived: arrived_rx,
            release: release_tx,
        }
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.shared.lock().hits.get(path).copied().unwrap_or(0)
    }

    /// How many bytes of endless bodies the server produced.
    pub fn endless_bytes_sent(&self) -> u64 {
        self.shared.endless_sent.load(Ordering::Relaxed)
    }
}

async fn answer(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let (answer, hold) = {
        let mut state = shared.lock();
        *state.hits.entry(path.clone()).or_default() += 1;
        (state.answers.get(&path).cloned(), state.holds.remove(&path))
    };
    if let Some(hold) = hold {
        let _ = hold.arrived.send(());
        let _ = hold.release.await;
    }
    match answer {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Answer::Fixed {
            status,
            content_type,
            body,
        }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
        Some(Answer::Endless) => {
            let chunk = Bytes::from(vec![0x89u8; 64 * 1024]);
            let stream = futures::stream::repeat(chunk).map(move |chunk| {
                shared
                    .endless_sent
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok::<_, Infallible>(chunk)
            });
            (
                [(header::CONTENT_TYPE, "image/png")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    }
}
