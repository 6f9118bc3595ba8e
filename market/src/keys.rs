//! RSA key pairs for shop actors: 2048-bit, private key as PKCS#8 PEM, public as SPKI PEM, the
//! same shape `activitypub_federation::http_signatures::generate_actor_keypair` produces, so the
//! federation layer can sign with them unchanged.

use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
};

use crate::{Error, Result};

/// A PEM-encoded key pair.
pub struct KeyPair {
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
}

/// Generate a fresh RSA-2048 key pair. CPU-heavy (tens to hundreds of ms): call it from
/// `spawn_blocking` in async code.
pub fn generate() -> Result<KeyPair> {
    let mut rng = rand::thread_rng();
    let private = RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| Error::Internal(format!("RSA key generation: {e}")))?;
    let public = RsaPublicKey::from(&private);
    let private_key_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Internal(format!("PKCS#8 encoding: {e}")))?
        .to_string();
    let public_key_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::Internal(format!("SPKI encoding: {e}")))?;
    Ok(KeyPair {
        private_key_pem,
        public_key_pem,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};

    use super::*;

    #[test]
    fn generated_pems_parse_back_and_match() {
        let pair = generate().unwrap();
        assert!(
            pair.private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(
            pair.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        let private = RsaPrivateKey::from_pkcs8_pem(&pair.private_key_pem).unwrap();
        let public = RsaPublicKey::from_public_key_pem(&pair.public_key_pem).unwrap();
        assert_eq!(RsaPublicKey::from(&private), public);
        assert_eq!(rsa::traits::PublicKeyParts::size(&public), 256);
    }
}
