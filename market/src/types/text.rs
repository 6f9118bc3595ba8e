//! Names and texts with their limits. HTML in any of them is kept as text: pages escape it.

use crate::{Error, Result};

fn no_control_chars(field: &str, value: &str) -> Result<()> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn bounded(field: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
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
    no_control_chars(field, trimmed)?;
    Ok(trimmed.to_string())
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
        bounded("title", value, 1, 200).map(Title)
    }
}

impl Description {
    /// Parse a description.
    pub fn parse(value: &str) -> Result<Self> {
        bounded("description", value, 0, 20_000).map(Description)
    }
}

impl DisplayName {
    /// Parse a display name.
    pub fn parse(value: &str) -> Result<Self> {
        bounded("name", value, 1, 100).map(DisplayName)
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
