//! How hard a new password is to guess, estimated by zxcvbn (Dropbox's estimator, maintained in
//! Rust as the `zxcvbn` crate): it knows the common-password, name and word lists and the usual
//! patterns (keyboard rows, repeats, sequences, dates, l33t), so the rule is not a hand-made list.
//!
//! A new password must score at least [`MIN_SCORE`] (3 of 4: "safely unguessable", more than
//! 10^10 guesses by zxcvbn's estimate). Why 3 and not 2: online guessing is already slowed by
//! the login throttle, but a copied database is attacked offline; at 3 an attacker needs about
//! 10^10 argon2id hashes (19 MiB, 2 passes each) per account. Score 4 refuses too many sensible
//! passphrases of three common words. The account's username and email are given to the
//! estimator as words an attacker knows, so `ana2024` is weak for `ana`.

use super::Password;
use crate::{Error, Result};

/// The lowest zxcvbn score (0 to 4) a new password may have.
pub(crate) const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Characters estimated at most: zxcvbn's matching grows faster than linearly with length, and
/// a password longer than this is long enough when its first 100 characters are.
const ESTIMATED_CHARS: usize = 100;

impl Password {
    /// Refuse a password that is too easy to guess for an account named `username` (with
    /// `email`, if any), with zxcvbn's reason and advice as the message (422 `password`). For
    /// new passwords only: logging in checks whatever was accepted then.
    pub fn check_strength(&self, username: &str, email: Option<&str>) -> Result<()> {
        let mut inputs = vec![username];
        if let Some(email) = email {
            inputs.push(email);
            // The address's local part is what people reuse ("ana.lopez" of ana.lopez@…).
            if let Some((local, _)) = email.split_once('@') {
                inputs.push(local);
            }
        }
        let password: String = self.expose().chars().take(ESTIMATED_CHARS).collect();
        let estimate = zxcvbn::zxcvbn(&password, &inputs);
        if estimate.score() >= MIN_SCORE {
            return Ok(());
        }
        let mut reason = String::from("too easy to guess.");
        let feedback = estimate.feedback();
        if let Some(warning) = feedback.and_then(|f| f.warning()) {
            reason.push_str(&format!(" {warning}"));
        }
        let suggestions = feedback.map(|f| f.suggestions()).unwrap_or_default();
        if suggestions.is_empty() {
            reason.push_str(" Add another word or two. Uncommon words are better.");
        }
        for suggestion in suggestions {
            reason.push_str(&format!(" {suggestion}"));
        }
        Err(Error::invalid("password", reason))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reason(password: &str, username: &str, email: Option<&str>) -> Option<String> {
        match Password::parse(password)
            .unwrap()
            .check_strength(username, email)
        {
            Ok(()) => None,
            Err(Error::Invalid { field, reason }) => {
                assert_eq!(field, "password");
                Some(reason)
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn common_and_patterned_passwords_are_refused_with_the_reason() {
        let top10 = reason("12345678", "bea", None).unwrap();
        assert!(top10.contains("top-10 common password"), "{top10}");
        let password = reason("password", "bea", None).unwrap();
        assert!(password.contains("common password"), "{password}");
        let spaces = reason("        ", "bea", None).unwrap();
        assert!(spaces.contains("Repeats"), "{spaces}");
        for weak in [
            "qwertyuiop",
            "abcdefgh",
            "iloveyou1",
            "P@ssw0rd!",
            "tianguis",
        ] {
            assert!(reason(weak, "bea", None).is_some(), "{weak}");
        }
    }

    #[test]
    fn the_username_and_email_count_as_known_words() {
        assert!(reason("anaisabel2024", "anaisabel", None).is_some());
        assert!(
            reason("lopezmarquez", "ana", Some("lopezmarquez@example.org")).is_some(),
            "the email's local part"
        );
    }

    #[test]
    fn passphrases_are_accepted() {
        for good in [
            "correct horse battery",
            "a long enough secret",
            "another long secret",
            "tortilla volcano seventeen",
        ] {
            assert_eq!(reason(good, "bea", Some("bea@example.org")), None, "{good}");
        }
    }
}
