//! Signing and POSTing one delivery, with our own reading of the answer.
//!
//! The library's `SendActivityTask::sign_and_send` treats every 4xx but 408/429 as delivered
//! and hides the status and `Retry-After`, so the delivery engine signs and posts itself:
//! draft-cavage `rsa-sha256` over `(request-target) host date digest content-type`, as Mastodon
//! signs, with the body and its digest computed once per activity and one RSA signature per
//! inbox (the signature covers the inbox's host and path, so it cannot be shared).

use std::time::Duration;

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use axum::body::Bytes;
use base64::{Engine, engine::general_purpose::STANDARD};
use market::service::deliveries::Attempted;
use sha2::{Digest, Sha256};
use url::Url;

/// The media type every activity is posted with.
pub const CONTENT_TYPE: &str = "application/activity+json";

/// An actor's private key, parsed once, and the key id receivers fetch to verify it.
pub struct SigningKey {
    key_id: String,
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parse a PKCS#8 PEM private key (as shops and the instance actor store them).
    pub fn from_pkcs8_pem(key_id: &str, pem: &str) -> Result<SigningKey, String> {
        let base64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD
            .decode(base64)
            .map_err(|e| format!("private key is not PEM: {e}"))?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("private key is not PKCS#8 RSA: {e}"))?;
        Ok(SigningKey {
            key_id: key_id.to_string(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The key id put in the `Signature` header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|e| format!("signing failed: {e}"))?;
        Ok(signature)
    }
}

/// An activity ready to post: the body exactly as stored and its digest, computed once.
#[derive(Debug, Clone)]
pub struct Prepared {
    body: Bytes,
    digest: String,
}

impl Prepared {
    /// Prepare `body` (the serialised activity).
    pub fn new(body: &str) -> Prepared {
        let digest = format!(
            "SHA-256={}",
            STANDARD.encode(Sha256::digest(body.as_bytes()))
        );
        Prepared {
            body: Bytes::from(body.to_string()),
            digest,
        }
    }
}

/// Sign and POST `activity` to `inbox` once, and read the answer.
pub async fn post(
    client: &reqwest::Client,
    key: &SigningKey,
    activity: &Prepared,
    inbox: &Url,
) -> Attempted {
    let Some(host) = inbox.host_str() else {
        return Attempted::Local {
            error: format!("inbox {inbox} has no host"),
            retry: false,
        };
    };
    let host = match inbox.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut target = inbox.path().to_string();
    if let Some(query) = inbox.query() {
        target.push('?');
        target.push_str(query);
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let signing_string = format!(
        "(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {}\ncontent-type: {CONTENT_TYPE}",
        activity.digest
    );
    let signature = match key.sign(signing_string.as_bytes()) {
        Ok(signature) => signature,
        Err(error) => {
            return Attempted::Local {
                error,
                retry: false,
            };
        }
    };
    let header = format!(
        r#"keyId="{}",algorithm="rsa-sha256",headers="(request-target) host date digest content-type",signature="{}""#,
        key.key_id,
        STANDARD.encode(signature)
    );
    let response = client
        .post(inbox.clone())
        .header("host", &host)
        .header("date", date)
        .header("digest", &activity.digest)
        .header("content-type", CONTENT_TYPE)
        .header("signature", header)
        .body(activity.body.clone())
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            return Attempted::Retry {
                error: format!("{what}: {}", error_chain(&e)),
                after: None,
                host_down: true,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempted::Delivered;
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    // A little of the answer helps an admin see why; never read more than that (a hostile
    // server could answer with an endless body).
    let mut response = response;
    let mut head = Vec::new();
    while head.len() < 1024 {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    drop(response);
    let text: String = String::from_utf8_lossy(&head).chars().take(200).collect();
    let error = format!("HTTP {}: {}", status.as_u16(), text.trim());
    match status.as_u16() {
        401 => Attempted::Unauthorized(error),
        408 => Attempted::Retry {
            error,
            after: retry_after,
            host_down: true,
        },
        429 => Attempted::Retry {
            error,
            after: retry_after,
            host_down: false,
        },
        400..=499 => Attempted::Refused(error),
        _ => Attempted::Retry {
            error,
            after: retry_after,
            host_down: true,
        },
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(later)).expect("a date");
        assert!(parsed > Duration::from_secs(3590) && parsed <= Duration::from_secs(3600));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn a_signature_verifies_with_the_public_key() {
        let keys =
            activitypub_federation::http_signatures::generate_actor_keypair().expect("keypair");
        let key = SigningKey::from_pkcs8_pem("https://x.test/a#main-key", &keys.private_key)
            .expect("key parses");
        let signature = key.sign(b"hello").expect("signs");
        let public = keys
            .public_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        let der = STANDARD.decode(public).expect("base64");
        // SubjectPublicKeyInfo: aws-lc-rs verifies with the RSA public key inside it.
        let spki = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            spki_rsa_key(&der),
        );
        assert!(spki.verify(b"hello", &signature).is_ok());
        assert!(spki.verify(b"hullo", &signature).is_err());
        assert!(SigningKey::from_pkcs8_pem("k", "-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());
    }

    /// The RSAPublicKey inside a 2048-bit key's SubjectPublicKeyInfo (fixed 24-byte prefix).
    fn spki_rsa_key(der: &[u8]) -> &[u8] {
        &der[24..]
    }
}
