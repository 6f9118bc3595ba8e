//! A whole inbox request, as another server sends it: `Date`, `Digest`, `Signature` and the
//! body, posted over HTTP to a real node's shared or shop inbox. The node must answer every
//! input, never with 500 (a sender's mistake is a 4xx; our own failures are 503).
//!
//! Input: one byte of flags, then the body. The flags choose the inbox, whether the `Date` is
//! now (else missing or 2 h ahead), whether the `Digest` matches the body (else a mangled one),
//! and whether a `Signature` header is present. Seeds: `seed.sh` turns the shared fixtures'
//! activities into inputs.
#![no_main]

mod common;

use base64::{Engine, engine::general_purpose::STANDARD};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|input: &[u8]| {
    let Some((&flags, body)) = input.split_first() else {
        return;
    };
    let fixture = common::fixture();
    let node = &fixture.node;
    let inbox = if flags & 1 == 0 {
        format!("{}/inbox", node.base)
    } else {
        format!("{}/shops/pottery/inbox", node.base)
    };
    let now = std::time::SystemTime::now();
    let date = match (flags >> 1) & 3 {
        0 => None,
        1 => Some(httpdate::fmt_http_date(
            now + std::time::Duration::from_secs(7200),
        )),
        _ => Some(httpdate::fmt_http_date(now)),
    };
    let hash = STANDARD.encode(Sha256::digest(body));
    let digest = if flags & 8 == 0 {
        format!("SHA-256={hash}")
    } else {
        format!("sha-256={}", &hash[..hash.len() / 2])
    };
    let status = fixture.runtime.block_on(async {
        let mut request = node
            .http
            .post(&inbox)
            .header("content-type", "application/activity+json")
            .header("digest", digest)
            .body(body.to_vec());
        if let Some(date) = date {
            request = request.header("date", date);
        }
        if flags & 16 != 0 {
            let signature = STANDARD.encode(&body[..body.len().min(64)]);
            request = request.header(
                "signature",
                format!(
                    "keyId=\"http://127.0.0.1:1/actor#main-key\",algorithm=\"hs2019\",\
                     headers=\"(request-target) host date digest\",signature=\"{signature}\""
                ),
            );
        }
        request.send().await.map(|r| r.status())
    });
    let status = status.expect("the node answers every request");
    assert_ne!(status.as_u16(), 500, "500 for input {input:?}");
});
