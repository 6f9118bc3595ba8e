//! Names and texts with their limits. HTML in any of them is kept as text: pages escape it.

use crate::{Error, Result};

/// Text a person typed (a title, a note, a statement, a message): parsed once, with its
/// limits, before it goes anywhere near the database.
///
/// - Leading and trailing whitespace is trimmed; length is counted in characters.
/// - No control characters (Unicode category Cc: NUL, bell, escape, DEL, C1 controls, ...).
///   PostgreSQL cannot store NUL in text at all and SQLite would keep it silently, so both
///   backends refuse the same input with the same 422. One-line text ([`Text::line`]) allows no
///   control character at all; several lines ([`Text::lines`]) allow line feeds and tabs, and
///   line ends are normalised to `\n` (`\r\n` and a lone `\r` become `\n`).
/// - No unbalanced bidirectional embeddings, overrides or isolates (U+202A–U+202E,
///   U+2066–U+2069) within a line: an override left open reverses whatever a page shows after
///   the field (the "Trojan Source" trick). Balanced pairs, as right-to-left writers may use,
///   are kept.
///
/// HTML is kept as text: pages escape it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// One line of `min..=max` characters.
    pub fn line(field: &str, value: &str, min: usize, max: usize) -> Result<Text> {
        let value = value.trim();
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(Error::invalid(field, control_reason(c)));
        }
        checked(field, value.to_string(), min, max)
    }

    /// Several lines of `min..=max` characters (line feeds and tabs allowed).
    pub fn lines(field: &str, value: &str, min: usize, max: usize) -> Result<Text> {
        let value = value.trim().replace("\r\n", "\n").replace('\r', "\n");
        if let Some(c) = value
            .chars()
            .find(|&c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(Error::invalid(field, control_reason(c)));
        }
        checked(field, value, min, max)
    }

    /// [`Text::line`] for an optional field: `None` when absent or blank.
    pub fn optional_line(field: &str, value: Option<&str>, max: usize) -> Result<Option<Text>> {
        Self::optional(value, |v| Self::line(field, v, 1, max))
    }

    /// [`Text::lines`] for an optional field: `None` when absent or blank.
    pub fn optional_lines(field: &str, value: Option<&str>, max: usize) -> Result<Option<Text>> {
        Self::optional(value, |v| Self::lines(field, v, 1, max))
    }

    fn optional(
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<Text>,
    ) -> Result<Option<Text>> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => parse(v).map(Some),
            None => Ok(None),
        }
    }

    /// The parsed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Take the text out.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn control_reason(c: char) -> String {
    let what = match c {
        '\0' => "a NUL character".to_string(),
        '\n' | '\r' => "a line break (one line only)".to_string(),
        '\t' => "a tab (one line only)".to_string(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    };
    format!("must not contain control characters: found {what}")
}

fn checked(field: &str, value: String, min: usize, max: usize) -> Result<Text> {
    let len = value.chars().count();
    if len < min {
        return Err(Error::invalid(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    for line in value.split('\n') {
        if !bidi_balanced(line) {
            return Err(Error::invalid(
                field,
                "must not contain an unbalanced bidirectional override or isolate \
                 (U+202A–U+202E, U+2066–U+2069)",
            ));
        }
    }
    Ok(Text(value))
}

/// Whether every bidi embedding/override is closed by a PDF and every isolate by a PDI, in
/// order, within `line` (a paragraph, for the bidi algorithm).
fn bidi_balanced(line: &str) -> bool {
    #[derive(PartialEq)]
    enum Open {
        Embedding,
        Isolate,
    }
    let mut open = Vec::new();
    for c in line.chars() {
        let closes = match c {
            '\u{202A}'..='\u{202E}' if c != '\u{202C}' => {
                open.push(Open::Embedding);
                continue;
            }
            '\u{2066}'..='\u{2068}' => {
                open.push(Open::Isolate);
                continue;
            }
            '\u{202C}' => Open::Embedding,
            '\u{2069}' => Open::Isolate,
            _ => continue,
        };
        if open.pop() != Some(closes) {
            return false;
        }
    }
    open.is_empty()
}

/// Check a local name (shop handle or username): 1–30 of `a-z 0-9 _`, as Mastodon allows for
/// usernames, so `@handle@domain` works everywhere on the fediverse.
fn local_name(field: &str, value: &str) -> Result<String> {
    let lower = value.trim().trim_start_matches('@').to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 30 {
        return Err(Error::invalid(field, "must be 1 to 30 characters"));
    }
    if !lower
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::invalid(
            field,
            "may contain only letters a-z, digits and _",
        ));
    }
    Ok(lower)
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The parsed text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Take the text out.
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

text_newtype!(
    /// A shop's handle: the `pottery` in `@pottery@coop.example`. Lower-cased.
    Handle
);
text_newtype!(
    /// An account's username. Lower-cased.
    Username
);
text_newtype!(
    /// A listing's title: 1–200 characters.
    Title
);
text_newtype!(
    /// A listing's description in Markdown: up to 20,000 characters, may be empty.
    Description
);
text_newtype!(
    /// A shop's display name: 1–100 characters.
    DisplayName
);
text_newtype!(
    /// A hashtag without its `#`: letters, digits and `_`, up to 64 characters.
    Tag
);

/// Handles no shop may take: they name the node's own actors.
pub const RESERVED_HANDLES: &[&str] = &["coop"];

impl Handle {
    /// Parse a handle.
    pub fn parse(value: &str) -> Result<Self> {
        let handle = local_name("handle", value)?;
        // `coop@domain` is the co-op's own actor (WebFinger, `/coop`): no shop may take it.
        if RESERVED_HANDLES.contains(&handle.as_str()) {
            return Err(Error::invalid(
                "handle",
                format!("{handle:?} is reserved for the co-op itself"),
            ));
        }
        Ok(Handle(handle))
    }
}

impl Username {
    /// Parse a username.
    pub fn parse(value: &str) -> Result<Self> {
        local_name("username", value).map(Username)
    }
}

impl Title {
    /// Parse a title.
    pub fn parse(value: &str) -> Result<Self> {
        Text::line("title", value, 1, 200).map(|t| Title(t.0))
    }
}

impl Description {
    /// Parse a description.
    pub fn parse(value: &str) -> Result<Self> {
        Text::lines("description", value, 0, 20_000).map(|t| Description(t.0))
    }
}

impl DisplayName {
    /// Parse a display name.
    pub fn parse(value: &str) -> Result<Self> {
        Text::line("name", value, 1, 100).map(|t| DisplayName(t.0))
    }
}

impl Tag {
    /// Parse a tag; a leading `#` is dropped. Unicode letters are allowed, as in Mastodon's
    /// hashtags; tags are compared and stored in lower case.
    pub fn parse(value: &str) -> Result<Self> {
        let tag = value.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty() || tag.chars().count() > 64 {
            return Err(Error::invalid(
                "tags",
                format!("{value:?}: a tag has 1 to 64 characters"),
            ));
        }
        if !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::invalid(
                "tags",
                format!("{value:?}: a tag may contain only letters, digits and _"),
            ));
        }
        Ok(Tag(tag))
    }

    /// Parse a list of tags: at most 10, duplicates dropped, order kept.
    pub fn parse_list<S: AsRef<str>>(values: &[S]) -> Result<Vec<Tag>> {
        if values.len() > 10 {
            return Err(Error::invalid("tags", "at most 10 tags"));
        }
        let mut tags: Vec<Tag> = Vec::with_capacity(values.len());
        for value in values {
            let tag = Tag::parse(value.as_ref())?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(tags)
    }
}

/// A password: 8–256 characters. Never logged or displayed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Parse a password.
    pub fn parse(value: &str) -> Result<Self> {
        let len = value.chars().count();
        if len < 8 {
            return Err(Error::invalid("password", "must be at least 8 characters"));
        }
        if len > 256 {
            return Err(Error::invalid("password", "must be at most 256 characters"));
        }
        Ok(Password(value.to_string()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// How many of an item are for sale: 0 to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stock(i32);

impl Stock {
    /// Parse a stock count.
    pub fn new(value: i64) -> Result<Self> {
        if value < 0 {
            return Err(Error::invalid("stock", "must not be negative"));
        }
        if value > 1_000_000 {
            return Err(Error::invalid("stock", "must be at most 1000000"));
        }
        Ok(Stock(value as i32))
    }

    /// The count.
    pub fn get(&self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn handles_are_lowercased_and_checked() {
        assert_eq!(Handle::parse("@Pottery").unwrap().as_str(), "pottery");
        for bad in [
            "",
            "has space",
            "ünï",
            "a-b",
            &"x".repeat(31),
            "coop",
            "Coop",
        ] {
            assert!(Handle::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn html_is_kept_as_text() {
        let t = Title::parse("<script>alert(1)</script> Mug").unwrap();
        assert_eq!(t.as_str(), "<script>alert(1)</script> Mug");
    }

    #[test]
    fn titles_have_limits() {
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        assert!(Title::parse("bell\u{7}").is_err());
    }

    #[test]
    fn text_refuses_control_characters_and_open_bidi_overrides() {
        for bad in ["a\0b", "a\u{1b}b", "a\u{7f}b", "a\u{85}b", "a\tb", "a\nb"] {
            let err = Text::line("note", bad, 0, 100).unwrap_err();
            assert!(err.to_string().starts_with("note: "), "{err}");
        }
        assert_eq!(
            Text::lines("note", " one\r\ntwo\rthree\tfour ", 0, 100)
                .unwrap()
                .as_str(),
            "one\ntwo\nthree\tfour"
        );
        assert!(Text::lines("note", "a\0b", 0, 100).is_err());
        assert!(Text::line("note", "\u{202E}gpj.exe", 0, 100).is_err());
        assert!(Text::line("note", "x \u{2067}y", 0, 100).is_err());
        assert!(Text::lines("note", "\u{202B}a\n\u{202C}", 0, 100).is_err());
        assert!(Text::line("note", "\u{202B}שלום\u{202C} \u{2068}x\u{2069}", 0, 100).is_ok());
        assert!(
            Text::optional_line("note", Some("  "), 10)
                .unwrap()
                .is_none()
        );
        assert!(Text::line("note", "", 1, 10).is_err());
    }

    #[test]
    fn tags_are_normalised() {
        let tags = Tag::parse_list(&["#Pottery", "pottery", "cerámica", "hand_made"]).unwrap();
        let names: Vec<_> = tags.iter().map(Tag::as_str).collect();
        assert_eq!(names, ["pottery", "cerámica", "hand_made"]);
        assert!(Tag::parse("two words").is_err());
        assert!(Tag::parse("<b>").is_err());
        assert!(Tag::parse_list(&["a"; 11]).is_err());
    }

    #[test]
    fn stock_bounds() {
        assert!(Stock::new(-1).is_err());
        assert_eq!(Stock::new(0).unwrap().get(), 0);
        assert!(Stock::new(1_000_001).is_err());
    }
}
