//! Content negotiation: one URL per thing, HTML for browsers and JSON-LD for ActivityPub clients.
//!
//! The `Accept` header is parsed as a list of media types with `q` values, not compared as a
//! string: Mastodon sends `application/activity+json, application/ld+json; profile="…"`, its URL
//! search adds `text/html;q=0.1`, and browsers send `text/html,…,*/*;q=0.8`.

/// The content type of every ActivityPub document we serve.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// True if the client prefers an ActivityPub document over HTML.
pub fn wants_activity_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut ap, mut html) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut q = 1.0f32;
        for param in parts {
            if let Some(value) = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
            {
                q = value.trim().parse().unwrap_or(0.0);
            }
        }
        match media.as_str() {
            "application/activity+json" | "application/ld+json" => ap = ap.max(q),
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            _ => {}
        }
    }
    ap > 0.0 && ap >= html
}

#[cfg(test)]
mod tests {
    use super::wants_activity_json as ap;

    #[test]
    fn activitypub_clients_get_json() {
        assert!(ap(Some("application/activity+json")));
        assert!(ap(Some("application/activity+json, application/ld+json")));
        assert!(ap(Some(
            r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#
        )));
        assert!(ap(Some(
            r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams", application/activity+json, text/html;q=0.1"#
        )));
        assert!(ap(Some("Application/Activity+JSON; charset=utf-8")));
    }

    #[test]
    fn browsers_get_html() {
        assert!(!ap(None));
        assert!(!ap(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!ap(Some("*/*")));
        assert!(!ap(Some("application/json")));
        assert!(!ap(Some("application/activity+json;q=0")));
        assert!(!ap(Some("text/html, application/activity+json;q=0.5")));
    }
}
