//! A hand-rolled draft-cavage HTTP signer, so tests can send exactly the broken requests a
//! hostile or buggy peer would: wrong digest, unsigned digest, dates out of range, another
//! actor's key.

use std::time::SystemTime;

use base64::Engine;
use rsa::{
    RsaPrivateKey,
    pkcs1v15::SigningKey,
    pkcs8::DecodePrivateKey,
    signature::{SignatureEncoding, Signer},
};
use sha2::{Digest, Sha256};

/// One signed POST, with knobs to break it.
pub struct SignedPost {
    /// Where to.
    pub url: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// `keyId` (e.g. `http://localhost:P/users/alice#main-key`).
    pub key_id: String,
    /// PKCS#8 PEM of the signing key.
    pub private_key_pem: String,
    /// The `Date` header.
    pub date: SystemTime,
    /// `rsa-sha256` or `hs2019`.
    pub algorithm: &'static str,
    /// Send this `Digest` instead of the body's.
    pub digest_override: Option<String>,
    /// Leave `digest` out of the signed headers.
    pub unsigned_digest: bool,
    /// Sign `(created)` with this time (hs2019), as a `created` parameter of the signature.
    pub created: Option<SystemTime>,
}

impl SignedPost {
    /// A correct signed POST of `body` to `url`.
    pub fn new(url: &str, body: &serde_json::Value, key_id: &str, private_key_pem: &str) -> Self {
        SignedPost {
            url: url.to_string(),
            body: serde_json::to_vec(body).unwrap_or_default(),
            key_id: key_id.to_string(),
            private_key_pem: private_key_pem.to_string(),
            date: SystemTime::now(),
            algorithm: "rsa-sha256",
            digest_override: None,
            unsigned_digest: false,
            created: None,
        }
    }

    /// Send it; returns the status code.
    pub async fn send(&self, client: &reqwest::Client) -> u16 {
        let request = self.build(client);
        client
            .execute(request)
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    /// The signing string and the request, signed, ready to send (benchmarks sign everything
    /// first so only the server's work is timed).
    pub fn build(&self, client: &reqwest::Client) -> reqwest::Request {
        self.build_with_signing_string(client).1
    }

    /// Like [`SignedPost::build`], also returning the signing string and the raw signature.
    pub fn build_with_signing_string(
        &self,
        client: &reqwest::Client,
    ) -> ((String, Vec<u8>), reqwest::Request) {
        let url = url::Url::parse(&self.url).expect("url");
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let target = format!("post {}", url.path());
        let date = httpdate::fmt_http_date(self.date);
        let digest = self.digest_override.clone().unwrap_or_else(|| {
            format!(
                "SHA-256={}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&self.body))
            )
        });
        let content_type = "application/activity+json";
        let created = self.created.map(|t| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
                .to_string()
        });
        let mut headers = vec![("(request-target)", target)];
        if let Some(created) = &created {
            headers.push(("(created)", created.clone()));
        }
        headers.push(("host", host.clone()));
        headers.push(("date", date.clone()));
        if !self.unsigned_digest {
            headers.push(("digest", digest.clone()));
        }
        headers.push(("content-type", content_type.to_string()));
        let signing_string = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n");
        let key = RsaPrivateKey::from_pkcs8_pem(&self.private_key_pem).expect("key");
        let signature = SigningKey::<Sha256>::new(key)
            .sign(signing_string.as_bytes())
            .to_vec();
        let raw_signature = signature.clone();
        let names = headers
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(" ");
        let created_param = created.map(|c| format!("created={c},")).unwrap_or_default();
        let header = format!(
            r#"keyId="{}",algorithm="{}",{created_param}headers="{}",signature="{}""#,
            self.key_id,
            self.algorithm,
            names,
            base64::engine::general_purpose::STANDARD.encode(signature)
        );
        let request = client
            .post(url)
            .header("host", host)
            .header("date", date)
            .header("digest", digest)
            .header("content-type", content_type)
            .header("signature", header)
            .body(self.body.clone())
            .build()
            .expect("request");
        ((signing_string, raw_signature), request)
    }
}

/// Verify one RSA-SHA256 signature, as an inbox does (for the benchmark's baseline).
pub fn verify(public_key_pem: &str, signing_string: &str, signature: &[u8]) -> bool {
    use rsa::{pkcs1v15::VerifyingKey, pkcs8::DecodePublicKey, signature::Verifier};
    let Ok(key) = rsa::RsaPublicKey::from_public_key_pem(public_key_pem) else {
        return false;
    };
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key)
        .verify(signing_string.as_bytes(), &signature)
        .is_ok()
}

/// A `GET` of `url` signed over `(request-target) host date` with `private_key_pem`, as a node
/// fetching a private object does. Returns the status and the JSON body (null if none).
pub async fn signed_get(
    client: &reqwest::Client,
    url: &str,
    key_id: &str,
    private_key_pem: &str,
) -> (u16, serde_json::Value) {
    let parsed = url::Url::parse(url).expect("url");
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_string(),
    };
    let target = match parsed.query() {
        Some(query) => format!("get {}?{query}", parsed.path()),
        None => format!("get {}", parsed.path()),
    };
    let date = httpdate::fmt_http_date(SystemTime::now());
    let signing_string = format!("(request-target): {target}\nhost: {host}\ndate: {date}");
    let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem).expect("key");
    let signature = SigningKey::<Sha256>::new(key)
        .sign(signing_string.as_bytes())
        .to_vec();
    let header = format!(
        r#"keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date",signature="{}""#,
        base64::engine::general_purpose::STANDARD.encode(signature)
    );
    let response = client
        .get(parsed)
        .header("host", host)
        .header("date", date)
        .header("accept", "application/activity+json")
        .header("signature", header)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}
