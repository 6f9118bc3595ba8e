//! API errors as JSON, and a JSON extractor whose rejections use the same format.

use axum::{
    Json,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

/// A `market::Error` on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError(pub market::Error);

impl From<market::Error> for ApiError {
    fn from(err: market::Error) -> Self {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        if err.is_internal() {
            // Logged once, here; the client gets a generic message.
            tracing::error!(error = %err, "request failed");
        }
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = serde_json::json!({"error": err.kind(), "message": err.public_message()});
        if let market::Error::Invalid { field, .. } = &err {
            body["field"] = serde_json::Value::String(field.clone());
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s: a syntax error is 400, a missing, unknown or
/// mistyped field is 422 naming the field, a wrong content type 415, an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

/// Whether a body error was caused by the request body timeout (`[server] body_timeout_secs`).
pub fn caused_by_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        current = err.source();
    }
    false
}

fn json_rejection(rejection: JsonRejection) -> market::Error {
    use market::Error;
    if caused_by_body_timeout(&rejection) {
        return Error::TimedOut("the request body did not arrive in time".into());
    }
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let detail = text
                .split_once(": ")
                .map(|(_, d)| d)
                .unwrap_or(&text)
                .to_string();
            // serde_path_to_error puts the field's path first ("stock: invalid type: …");
            // serde names missing and unknown fields between backticks ("missing field `title`").
            let field = match detail.split_once(": ") {
                Some((path, _)) if !path.contains(' ') && !path.is_empty() => path.to_string(),
                _ => detail.split('`').nth(1).unwrap_or("body").to_string(),
            };
            Error::Invalid {
                field,
                reason: detail,
            }
        }
        JsonRejection::JsonSyntaxError(e) => {
            Error::BadRequest(format!("malformed JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => {
            Error::UnsupportedMediaType("send the body as Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::PayloadTooLarge("request body too large".into())
        }
        other => Error::BadRequest(other.body_text()),
    }
}

/// Unknown API routes answer JSON, not an HTML page.
pub async fn api_not_found() -> ApiError {
    ApiError(market::Error::not_found("API endpoint"))
}
