//! Reading a page's `multipart/form-data` form (a listing with its photo, a new photo, a shop
//! avatar): its text fields and one file, within the node's image limit.
//!
//! The page router is built without the configuration, so the limit cannot be a
//! `DefaultBodyLimit` layer as in the API: the upload routes switch the node-wide (small) body
//! limit off and this reader counts the bytes itself against `max_image_bytes` (plus room for
//! the form's other fields), refusing a declared `Content-Length` over it before reading.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    body::Body,
    extract::{FromRequest, Multipart, Request},
    http::header,
};
use futures::StreamExt;
use market::Error;

use axum::response::Response;

use super::error_page;
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf},
};

/// Room for the form's text fields and the multipart framing, on top of the image.
const FORM_OVERHEAD: usize = 64 * 1024;

/// A multipart form as sent: its text fields (the last value of each name) and the file, if
/// one was chosen.
pub(crate) struct Upload {
    fields: HashMap<String, String>,
    /// The chosen file's bytes; `None` when the file input was left empty.
    pub(crate) file: Option<Vec<u8>>,
}

impl Upload {
    /// A text field's value, or "" when the form did not send it.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// [`read`] a page's form and check its CSRF value: the answer to send instead when the form is
/// refused (an error page, or the CSRF refusal).
pub(crate) async fn read_checked(
    state: &AppState,
    user: &PageUser,
    request: Request,
    file_field: &str,
) -> Result<Upload, Response> {
    let form = match read(state, request, file_field).await {
        Ok(form) => form,
        Err(e) => return Err(error_page(state, user, e).await),
    };
    check_csrf(user, form.text("csrf"))?;
    Ok(form)
}

/// Read the whole form; the part named `file_field` is the file. An empty file part (a browser
/// sends one when nothing was chosen) counts as no file.
pub(crate) async fn read(
    state: &AppState,
    request: Request,
    file_field: &str,
) -> Result<Upload, Error> {
    let limit = state
        .ctx
        .instance
        .max_image_bytes
        .saturating_add(FORM_OVERHEAD);
    let too_large = || {
        Error::PayloadTooLarge(format!(
            "the photo is too large: the limit is {} MB",
            state.ctx.instance.max_image_bytes.div_ceil(1024 * 1024)
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let over = Arc::new(AtomicBool::new(false));
    let flag = over.clone();
    let (parts, body) = request.into_parts();
    let mut seen = 0usize;
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(axum::Error::new(std::io::Error::other(
                "upload over the limit",
            )));
        }
        Ok(chunk)
    }));
    let request = Request::from_parts(parts, body);
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|_| Error::UnsupportedMediaType("send the form as multipart/form-data".into()))?;
    let failed = |e: axum::extract::multipart::MultipartError| {
        if over.load(Ordering::Relaxed) {
            too_large()
        } else {
            Error::BadRequest(format!(
                "the form did not arrive whole; try again ({})",
                e.body_text()
            ))
        }
    };
    let mut upload = Upload {
        fields: HashMap::new(),
        file: None,
    };
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        if name == file_field {
            let bytes = field.bytes().await.map_err(failed)?;
            upload.file = (!bytes.is_empty()).then(|| bytes.to_vec());
        } else {
            let value = field.text().await.map_err(failed)?;
            upload.fields.insert(name, value);
        }
    }
    Ok(upload)
}
