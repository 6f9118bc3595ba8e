//! A closed proposal's result, computed from the counts alone (pure, unit-tested).

use serde::{Deserialize, Serialize};

/// Votes for one option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionCount {
    /// The option's label.
    pub option: String,
    /// Votes it got.
    pub votes: u64,
}

/// The result of a closed proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Votes per option, in the proposal's order.
    pub counts: Vec<OptionCount>,
    /// Votes cast.
    pub cast: u64,
    /// Members when the proposal closed.
    pub electorate: u64,
    /// `cast` of `electorate`, in percent (two decimals).
    pub turnout_percent: f64,
    /// Whether votes cast reached the quorum (a share of the electorate).
    pub quorum_met: bool,
    /// The adopted option's label, if one was adopted.
    pub adopted: Option<String>,
    /// One line saying what happened.
    pub outcome: String,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

fn bp_text(bp: u32) -> String {
    let text = format!("{:.2}", f64::from(bp) / 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The result: quorum met when `cast ≥ quorum × electorate`; the option with the most votes is
/// adopted when the quorum is met, no other option has as many, and its share of the votes cast
/// is MORE than the threshold (so 50 % is a simple majority: half is not enough).
pub fn compute(
    options: &[String],
    counts: &[u64],
    electorate: u64,
    quorum_bp: u32,
    threshold_bp: u32,
) -> Results {
    let counts: Vec<OptionCount> = options
        .iter()
        .enumerate()
        .map(|(i, option)| OptionCount {
            option: option.clone(),
            votes: counts.get(i).copied().unwrap_or(0),
        })
        .collect();
    let cast: u64 = counts.iter().map(|c| c.votes).sum();
    let quorum_met = u128::from(cast) * 10_000 >= u128::from(quorum_bp) * u128::from(electorate);
    let top = counts.iter().map(|c| c.votes).max().unwrap_or(0);
    let leaders: Vec<&OptionCount> = counts.iter().filter(|c| c.votes == top).collect();
    let share_above =
        u128::from(top) * 10_000 > u128::from(threshold_bp) * u128::from(cast) && cast > 0;
    let (adopted, outcome) = if cast == 0 {
        (None, "Not adopted: no votes were cast.".to_string())
    } else if !quorum_met {
        (
            None,
            format!(
                "Not adopted: quorum not met ({cast} of {electorate} members voted, {}% needed).",
                bp_text(quorum_bp)
            ),
        )
    } else if leaders.len() > 1 {
        let names: Vec<&str> = leaders.iter().map(|c| c.option.as_str()).collect();
        (
            None,
            format!(
                "Not adopted: tie between {} ({top} votes each).",
                names.join(" and ")
            ),
        )
    } else if !share_above {
        (
            None,
            format!(
                "Not adopted: {} got {}% of the votes cast; more than {}% was needed.",
                leaders[0].option,
                percent(top, cast),
                bp_text(threshold_bp)
            ),
        )
    } else {
        (
            Some(leaders[0].option.clone()),
            format!(
                "Adopted: {}, with {top} of {cast} votes ({}%).",
                leaders[0].option,
                percent(top, cast)
            ),
        )
    };
    Results {
        counts,
        cast,
        electorate,
        turnout_percent: percent(cast, electorate),
        quorum_met,
        adopted,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes_no() -> Vec<String> {
        vec!["yes".into(), "no".into()]
    }

    #[test]
    fn three_yes_two_no_of_five_members_is_adopted() {
        let r = compute(&yes_no(), &[3, 2], 5, 2_500, 5_000);
        assert_eq!(r.cast, 5);
        assert!(r.quorum_met);
        assert_eq!(r.adopted.as_deref(), Some("yes"));
        assert_eq!(r.turnout_percent, 100.0);
        assert_eq!(r.outcome, "Adopted: yes, with 3 of 5 votes (60%).");
    }

    #[test]
    fn quorum_counts_votes_cast_against_the_electorate() {
        // 2 of 10 members voted; quorum 25 % needs 2.5 → not met.
        let r = compute(&yes_no(), &[2, 0], 10, 2_500, 5_000);
        assert!(!r.quorum_met);
        assert_eq!(r.adopted, None);
        assert_eq!(
            r.outcome,
            "Not adopted: quorum not met (2 of 10 members voted, 25% needed)."
        );
        // 3 of 12 is exactly 25 %: met ("at least").
        assert!(compute(&yes_no(), &[3, 0], 12, 2_500, 5_000).quorum_met);
    }

    #[test]
    fn the_threshold_must_be_exceeded_not_reached() {
        // Three options: 2 / 1 / 1 → the leader has exactly 50 %: not more than 50 %.
        let options = vec!["a".into(), "b".into(), "c".into()];
        let r = compute(&options, &[2, 1, 1], 4, 2_500, 5_000);
        assert_eq!(r.adopted, None);
        assert!(r.outcome.contains("50% of the votes cast"), "{}", r.outcome);
        // A two-thirds threshold: 2 of 3 (66.67 %) is not more than 66.67 %; 3 of 4 is.
        assert_eq!(compute(&yes_no(), &[2, 1], 3, 0, 6_667).adopted, None);
        assert_eq!(
            compute(&yes_no(), &[3, 1], 4, 0, 6_667).adopted.as_deref(),
            Some("yes")
        );
    }

    #[test]
    fn a_tie_adopts_nothing() {
        let r = compute(&yes_no(), &[2, 2], 5, 2_500, 5_000);
        assert!(r.quorum_met);
        assert_eq!(r.adopted, None);
        assert_eq!(
            r.outcome,
            "Not adopted: tie between yes and no (2 votes each)."
        );
    }

    #[test]
    fn no_votes_no_members() {
        let r = compute(&yes_no(), &[0, 0], 0, 0, 5_000);
        assert_eq!(r.adopted, None);
        assert_eq!(r.turnout_percent, 0.0);
        assert_eq!(r.outcome, "Not adopted: no votes were cast.");
    }
}
