//! The co-op's bylaws settings: how members are admitted and leave, what a share costs, how
//! votes are decided and how a period's surplus is shared. Built once from `[coop]` in the
//! config (each field names its key); the defaults are those of `config.example.toml`.

/// Who admits a new member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// An admin approves or rejects each application.
    Admins,
    /// Each application opens an admission vote of the members (`yes`/`no`).
    Vote,
}

/// What a member's patronage (their share of the patronage dividend) is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatronageMeasure {
    /// The totals of their shops' completed sales in the period (items + shipping).
    Sales,
    /// The number of their shops' completed orders in the period.
    Orders,
}

impl PatronageMeasure {
    /// The name used in config, JSON and statements.
    pub fn as_str(self) -> &'static str {
        match self {
            PatronageMeasure::Sales => "sales",
            PatronageMeasure::Orders => "orders",
        }
    }
}

/// The bylaws settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bylaws {
    /// `coop.currency`: the co-op's own currency, that of member shares.
    pub currency: String,
    /// `coop.share_price`, in minor units of `currency`: what one member share costs. Each
    /// member holds exactly one (one member one vote whatever they paid).
    pub share_price_minor: i64,
    /// `coop.admission`: `admins` or `vote`.
    pub admission: Admission,
    /// `coop.admission_vote_hours`: how long an admission vote stays open.
    pub admission_vote_hours: u32,
    /// `coop.refund_share_on_leave`: whether a leaving member gets their share back.
    pub refund_share_on_leave: bool,
    /// `coop.reserve_percent`, in basis points: the part of a period's surplus kept as the
    /// co-op's indivisible reserve.
    pub reserve_bp: u32,
    /// `coop.patronage_percent`, in basis points: the part of a period's surplus returned to
    /// members as patronage dividends. `reserve_bp + patronage_bp` is 10 000.
    pub patronage_bp: u32,
    /// `coop.patronage_measure`.
    pub patronage_measure: PatronageMeasure,
    /// `coop.quorum_percent`, in basis points: the default share of members who must vote
    /// for a proposal's result to stand.
    pub quorum_bp: u32,
    /// `coop.threshold_percent`, in basis points: the default share of votes cast an option
    /// needs to be more than to be adopted (5 000: a simple majority).
    pub threshold_bp: u32,
}

impl Default for Bylaws {
    fn default() -> Self {
        Bylaws {
            currency: "EUR".into(),
            share_price_minor: 2_000,
            admission: Admission::Admins,
            admission_vote_hours: 168,
            refund_share_on_leave: true,
            reserve_bp: 3_000,
            patronage_bp: 7_000,
            patronage_measure: PatronageMeasure::Sales,
            quorum_bp: 2_500,
            threshold_bp: 5_000,
        }
    }
}
