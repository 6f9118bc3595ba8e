//! Signed `GET`s: who is asking for a private object (an order's Agreement). The library checks
//! signatures of POSTed activities only, so this reads a draft-cavage `Signature` header itself:
//! `(request-target)`, `host` and `date` must be signed, the date within the inbox's window, and
//! the RSA-SHA256 signature must verify with the key of the actor named by `keyId` (ours read
//! from the database, others fetched as for the inbox).

use activitypub_federation::{config::Data, fetch::object_id::ObjectId};
use axum::http::{HeaderMap, Method, Uri};
use base64::{Engine, engine::general_purpose::STANDARD};
use market::{
    Context,
    service::{accounts, shops},
};
use url::Url;

use crate::{error::Error, objects::remote_actor::ApubRemoteActor};

/// The parameters of a `Signature` header.
#[derive(Debug, Default, PartialEq)]
pub struct SignatureHeader {
    /// `keyId`: the key's URL.
    pub key_id: String,
    /// `headers`, lower-cased (default `date`).
    pub headers: Vec<String>,
    /// `signature`, decoded from base64.
    pub signature: Vec<u8>,
}

/// Parse a `Signature` header; `None` if it is malformed, lacks `keyId` or `signature`, or names
/// an algorithm other than `rsa-sha256` or `hs2019`. Public for the fuzz targets.
pub fn parse(header: &str) -> Option<SignatureHeader> {
    let mut parsed = SignatureHeader {
        headers: vec!["date".into()],
        ..Default::default()
    };
    let mut signature = None;
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let value = value.trim().trim_matches('"');
        match name.trim() {
            "keyId" => parsed.key_id = value.to_string(),
            "headers" => {
                parsed.headers = value
                    .split_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect();
            }
            "signature" => signature = STANDARD.decode(value).ok(),
            "algorithm" if !matches!(value, "rsa-sha256" | "hs2019") => return None,
            _ => {}
        }
    }
    parsed.signature = signature?;
    // A signature over no header at all binds nothing to the request (found by fuzzing: an
    // empty `headers=""` was read as an empty list).
    (!parsed.key_id.is_empty() && !parsed.headers.is_empty()).then_some(parsed)
}

/// The string that was signed, rebuilt from the request.
fn signing_string(
    names: &[String],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, Error> {
    let mut lines = Vec::with_capacity(names.len());
    for name in names {
        let value = if name == "(request-target)" {
            let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            format!("{} {target}", method.as_str().to_ascii_lowercase())
        } else {
            headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Unauthorized(format!("the signed header {name} is missing")))?
                .to_string()
        };
        lines.push(format!("{name}: {value}"));
    }
    Ok(lines.join("\n"))
}

/// Whether `signature` over `message` verifies with the SubjectPublicKeyInfo PEM `pem`.
fn verifies(pem: &str, message: &[u8], signature: &[u8]) -> bool {
    let base64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let Ok(der) = STANDARD.decode(base64) else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der,
    )
    .verify(message, signature)
    .is_ok()
}

/// The actor that signed this request, or 401 saying why not.
pub async fn signer(
    data: &Data<Context>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, Error> {
    let header = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Unauthorized("the request is not signed".into()))?;
    let parsed = parse(header)
        .ok_or_else(|| Error::Unauthorized("the Signature header is malformed".into()))?;
    for required in ["(request-target)", "host", "date"] {
        if !parsed.headers.iter().any(|h| h == required) {
            return Err(Error::Unauthorized(format!(
                "the signature must cover {required}"
            )));
        }
    }
    crate::inbox::check_signed_time(headers)?;
    let message = signing_string(&parsed.headers, method, uri, headers)?;
    let mut actor = Url::parse(&parsed.key_id)
        .map_err(|_| Error::Unauthorized("the keyId is not a URL".into()))?;
    actor.set_fragment(None);
    let actor = actor.to_string();
    let public_key = if let Some(user) = accounts::find_by_actor(data, &actor).await? {
        accounts::user_keys(data, user.id).await?.public_key_pem
    } else if let Some(shop) = shops::find_shop_by_ap_id(data, &actor).await? {
        shop.public_key_pem
    } else if actor.starts_with(&data.instance.url("/")) {
        return Err(Error::Unauthorized("no such actor here".into()));
    } else {
        let id: ObjectId<ApubRemoteActor> = Url::parse(&actor)
            .map_err(|_| Error::Unauthorized("the keyId is not a URL".into()))?
            .into();
        id.dereference(data).await?.row.public_key_pem
    };
    if !verifies(&public_key, message.as_bytes(), &parsed.signature) {
        return Err(Error::Unauthorized("the signature does not verify".into()));
    }
    Ok(actor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sender::SigningKey;

    #[test]
    fn a_signature_header_is_read_and_checked_with_the_public_key() {
        let keys = activitypub_federation::http_signatures::generate_actor_keypair().unwrap();
        let key =
            SigningKey::from_pkcs8_pem("https://x.test/a#main-key", &keys.private_key).unwrap();
        let signature = key.sign(b"hello").unwrap();
        assert!(verifies(&keys.public_key, b"hello", &signature));
        assert!(!verifies(&keys.public_key, b"hullo", &signature));
        let header = format!(
            r#"keyId="https://x.test/a#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="{}""#,
            STANDARD.encode(&signature)
        );
        let parsed = parse(&header).unwrap();
        assert_eq!(parsed.key_id, "https://x.test/a#main-key");
        assert_eq!(parsed.headers, ["(request-target)", "host", "date"]);
        assert_eq!(parsed.signature, signature);
        assert!(parse(r#"keyId="k",algorithm="hmac-sha256",signature="AAAA""#).is_none());
        assert!(parse(r#"keyId="k""#).is_none(), "no signature");
        // The fuzzer's find (fuzz/, signature_header): an empty list of signed headers.
        assert!(parse(r#"keyId="k",headers="",signature="AAAA""#).is_none());
        assert!(parse(r#"keyId="k",headers="   ",signature="AAAA""#).is_none());
    }
}
