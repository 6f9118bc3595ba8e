//! The header readers in front of the signature check: our `Signature` parser (signed fetches)
//! and the signed-time window (`Date`, or the signature's `created` and `expires`). Neither may
//! panic; what the parser accepts must be well-formed.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Some(parsed) = federation::signed_fetch::parse(text) {
        assert!(!parsed.key_id.is_empty(), "a key id");
        assert!(!parsed.headers.is_empty(), "signed headers");
    }
    // The same text as a `Date`, and as a `Signature` whose `created`/`expires` are read.
    if let Ok(value) = HeaderValue::from_str(text) {
        let mut headers = HeaderMap::new();
        headers.insert(header::DATE, value.clone());
        let _ = federation::inbox::check_signed_time(&headers);
        let mut headers = HeaderMap::new();
        headers.insert("signature", value);
        let _ = federation::inbox::check_signed_time(&headers);
    }
});
