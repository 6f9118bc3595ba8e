//! One error type for the marketplace, with one mapping to HTTP status codes.
//!
//! Clients see `{"error": kind, "message": text}` (plus `field` for validation errors). For
//! database and internal failures the message is generic and the cause is logged once, where the
//! error is turned into a response.

use sea_orm::DbErr;

/// Result alias used throughout the marketplace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a kind a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request could not be understood at all.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or wrong ones.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed to touch this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the request conflicts with the current state (a taken handle, a withdrawn listing).
    #[error("{0}")]
    Conflict(String),
    /// 408: the client took too long to send its request.
    #[error("{0}")]
    TimedOut(String),
    /// 413: the body or upload is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the upload is not a kind of file we accept.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a field failed validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as named in the API (`price`, `title`, `images[0].alt`).
        field: String,
        /// Why it was refused, safe to show to the user.
        reason: String,
    },
    /// 500: the database failed; the cause is logged, not sent.
    #[error("database error: {0}")]
    Db(DbErr),
    /// 500: anything else unexpected; the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A validation error on one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A database error, as 409 Conflict with `message` when it is a unique-key violation (a
    /// concurrent duplicate insert, on SQLite or PostgreSQL), as itself otherwise.
    pub fn from_unique(err: DbErr, message: impl Into<String>) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Error::Conflict(message.into()),
            _ => Error::Db(err),
        }
    }

    /// Whether this is the database being unreachable or busy, which passes by itself (the
    /// pool closed or exhausted, the connection lost, SQLite's write lock held too long,
    /// PostgreSQL shutting down or out of connections), rather than a statement that failed.
    /// The inbox answers these 503 so senders retry.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::{RuntimeErr, error::SqlxError};
        match self {
            Error::Db(DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) => true,
            Error::Db(
                DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)),
            ) => match e.as_ref() {
                SqlxError::Io(_)
                | SqlxError::PoolTimedOut
                | SqlxError::PoolClosed
                | SqlxError::WorkerCrashed => true,
                SqlxError::Database(db) => db.code().is_some_and(|code| {
                    // SQLite: SQLITE_BUSY (5) and its extended codes. PostgreSQL: connection
                    // exceptions (08), insufficient resources (53), operator intervention (57).
                    code == "5"
                        || code == "517"
                        || code == "261"
                        || code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57")
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// A missing thing, named for the client ("listing", "shop").
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::TimedOut(_) => 408,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Invalid { .. } => 422,
            Error::Db(_) | Error::Internal(_) => 500,
        }
    }

    /// The machine-readable kind sent as `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::TimedOut(_) => "timed_out",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Invalid { .. } => "invalid",
            Error::Db(_) | Error::Internal(_) => "internal",
        }
    }

    /// The text a client may see. Internal causes are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            Error::Db(_) | Error::Internal(_) => {
                "internal error; the node's log has details".into()
            }
            other => other.to_string(),
        }
    }

    /// True when this is the server's fault (and should be logged as an error).
    pub fn is_internal(&self) -> bool {
        self.status() >= 500
    }
}

/// PostgreSQL's SQLSTATE for a byte sequence its text cannot hold: NUL (`0x00`).
const PG_CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

impl From<DbErr> for Error {
    /// A database error is ours (500), except text PostgreSQL cannot hold: a NUL that reached a
    /// query without going through a parsed type (a search term, a path segment) is the
    /// sender's mistake, so 400. Every form and API field is parsed first (`types::Text`), so
    /// this is only a safety net.
    fn from(err: DbErr) -> Self {
        let code = match &err {
            DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
            | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)) => e
                .as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.into_owned()),
            _ => None,
        };
        if code.as_deref() == Some(PG_CHARACTER_NOT_IN_REPERTOIRE) {
            return Error::BadRequest(
                "text must not contain NUL or other control characters".into(),
            );
        }
        Error::Db(err)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Error::Internal(format!("background task failed: {err}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Internal(format!("i/o: {err}"))
    }
}
