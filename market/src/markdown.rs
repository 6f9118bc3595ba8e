//! Listing descriptions: Markdown in, safe HTML out.
//!
//! Raw HTML inside the Markdown is not interpreted: it is shown as the text it is, so a seller who
//! types `<script>` sees `<script>` on the page. The rendered HTML is then passed through ammonia
//! as a second line of defence (it also adds `rel="noopener noreferrer nofollow"` to links).

use pulldown_cmark::{Event, Options, Parser, html};

/// Render a description to HTML that is safe to embed in a page.
pub fn render(markdown: &str) -> String {
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            other => other,
        });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&out)
        .to_string()
}

/// Make HTML from another server safe to embed in a page, with the same rules as our own
/// rendered descriptions (so our own HTML passes through unchanged).
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The text of some HTML, tags dropped and entities decoded (for search).
pub fn to_text(html: &str) -> String {
    // A space before every tag, so `<p>a</p><p>b</p>` reads `a b`, not `ab`.
    let spaced = html.replace('<', " <");
    let bare = ammonia::Builder::empty().clean(&spaced).to_string();
    html_escape::decode_html_entities(&bare)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_html() {
        assert_eq!(
            render("**glazed** stoneware"),
            "<p><strong>glazed</strong> stoneware</p>\n"
        );
    }

    #[test]
    fn raw_html_is_kept_as_text() {
        let html = render("hello <script>alert(1)</script> <b>x</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn javascript_links_are_dropped() {
        let html = render("[click](javascript:alert(1))");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
