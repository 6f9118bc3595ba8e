//! Federation errors and the status codes peers get. Anything the sender got wrong is a 4xx:
//! senders retry 5xx (Mastodon for days), so a 500 for a bad signature would be an attack
//! amplifier. Signature failures are 401 so peers that try RFC 9421 first fall back to
//! draft-cavage (Mastodon 4.7, Fedify).
//!
//! The other way round, our own failures are 5xx and never 4xx: senders drop an activity
//! answered 4xx (Mastodon retries only 401, 408 and 429; the library every 4xx but those two),
//! so a 400 for a database that was briefly unreachable would lose the activity for good.
//! Failures that pass by themselves (the database unreachable or its pool exhausted, the
//! inbox's time limit) are 503 with `Retry-After`; the rest of ours (serialising, our own URLs,
//! configuration) are 500.

use activitypub_federation::error::Error as ApError;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// What went wrong while federating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the ActivityPub library (signatures, fetching, parsing).
    #[error(transparent)]
    Federation(#[from] ApError),
    /// From the marketplace (not found, forbidden, database).
    #[error(transparent)]
    Market(#[from] market::Error),
    /// The request or activity is malformed or not acceptable (400).
    #[error("{0}")]
    BadRequest(String),
    /// The activity is not allowed for this actor (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request is not (properly) signed (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Our own failure, not the sender's (500): serialising, our own URLs, configuration.
    #[error("{0}")]
    Internal(String),
    /// We cannot process it now; the sender should retry (503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
}

/// The `Retry-After` of a 503, in seconds.
pub const RETRY_AFTER_SECS: u64 = 30;

impl Error {
    /// As a marketplace error, for the API and pages: the market's own errors as they are, a
    /// refusal as 403, anything else (a node that did not answer properly) as 400.
    pub fn into_market(self) -> market::Error {
        match self {
            Error::Market(e) => e,
            Error::Forbidden(why) => market::Error::Forbidden(why),
            Error::Internal(why) | Error::Unavailable(why) => market::Error::Internal(why),
            other => {
                market::Error::BadRequest(format!("federating with that node failed: {other}"))
            }
        }
    }

    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Federation(e) => match e {
                ApError::NotFound => StatusCode::NOT_FOUND,
                // `Other` carries the signature library's complaints ("Missing required headers")
                // and failures to parse the sender's public key: the sender's fault either way.
                ApError::ActivityBodyDigestInvalid
                | ApError::ActivitySignatureInvalid
                | ApError::SignError(_)
                | ApError::Other(_) => StatusCode::UNAUTHORIZED,
                // We could not fetch the sender's actor (and so its key): the signature cannot
                // be checked. 401, like Mastodon.
                ApError::Reqwest(_)
                | ApError::ReqwestMiddleware(_)
                | ApError::ObjectDeleted(_)
                | ApError::FetchInvalidContentType(_)
                | ApError::FetchWrongId(_)
                | ApError::ParseFetchedObject(..)
                | ApError::ResponseBodyLimit => StatusCode::UNAUTHORIZED,
                ApError::UrlVerificationError(_)
                | ApError::DomainResolveError(_)
                | ApError::ResolveInternalIpError(..)
                | ApError::WebfingerResolveFailed(_)
                | ApError::ParseReceivedActivity { .. }
                | ApError::RequestLimit
                | ApError::UrlParse(_)
                | ApError::Utf8(_) => StatusCode::BAD_REQUEST,
                // Ours: serialising what we send, our queue, local I/O.
                ApError::SerializeOutgoingActivity(..)
                | ApError::ActivityQueueError(_)
                | ApError::StopActivityQueue(_)
                | ApError::IoError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Error::Market(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Error::Market(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                format!("the node cannot process this now; retry in {RETRY_AFTER_SECS} seconds")
            }
            Error::Market(e) => e.public_message(),
            _ if status.is_server_error() => "internal error".to_string(),
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "federation request failed");
        } else {
            tracing::info!(error = %self, %status, "federation request refused");
        }
        let kind = if status == StatusCode::UNAUTHORIZED {
            "unauthorized"
        } else {
            "federation"
        };
        let mut response = (
            status,
            Json(serde_json::json!({"error": kind, "message": message})),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
