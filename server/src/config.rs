//! Configuration: a TOML file, then `TIANGUIS__SECTION__KEY` environment overrides.
//!
//! Which file: `--config FILE` if given (it must exist), else `./config.toml` if present, else the
//! built-in defaults, which run an embedded node: SQLite and media under `./data`, serving on
//! 127.0.0.1:8080 as `localhost:8080`. Every key is documented in `config.example.toml`, which a
//! test parses.

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The whole configuration. A plain value, passed down; never a global.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[instance]`
    pub instance: InstanceConfig,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[media]`
    pub media: MediaConfig,
    /// `[federation]`
    pub federation: FederationConfig,
    /// `[orders]`
    pub orders: OrdersConfig,
    /// `[coop]`
    pub coop: CoopConfig,
    /// `[report]`
    pub report: ReportConfig,
    /// `[log]`
    pub log: LogConfig,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// Largest JSON or form body, in bytes (uploads have their own limit in `[media]`).
    pub body_limit_bytes: usize,
    /// Seconds a client may take to send its request headers.
    pub header_timeout_secs: u64,
    /// Seconds a client may take to send its request body.
    pub body_timeout_secs: u64,
    /// Seconds a whole request may take before it is answered 408.
    pub request_timeout_secs: u64,
    /// Seconds to finish in-flight requests after SIGTERM before exiting anyway.
    pub shutdown_grace_secs: u64,
    /// New accounts per client address per hour, by the form and the API (0: no limit).
    pub registrations_per_hour: u32,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` or `Forwarded` names
    /// the client; empty: no forwarding header is believed (`crate::client_addr`).
    pub trusted_proxies: Vec<crate::client_addr::TrustedProxy>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            body_limit_bytes: 256 * 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            request_timeout_secs: 60,
            shutdown_grace_secs: 20,
            registrations_per_hour: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[instance]`: who this node is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceConfig {
    /// The domain in every id and handle (`coop.example`); may carry a port for local use.
    pub domain: String,
    /// The co-op's name, shown on pages.
    pub name: String,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            domain: "localhost:8080".into(),
            name: "Tianguis".into(),
        }
    }
}

/// `[database]`: SQLite (default) or PostgreSQL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://data/tianguis.db` or `postgres://user@host/db`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/tianguis.db".into(),
        }
    }
}

/// `[media]`: uploaded images.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Directory for images and thumbnails.
    pub dir: PathBuf,
    /// Largest image upload, in bytes.
    pub max_image_bytes: usize,
    /// Largest image, in millions of pixels (width × height), read from its header before any
    /// pixel is decoded: uploads, avatars and peers' images above it are refused.
    pub max_megapixels: u32,
    /// Images decoded at once; more wait their turn. With `max_megapixels`, this bounds the
    /// memory decoding takes (about 3 bytes a pixel each, see BENCHMARKS.md).
    pub decodes_at_once: usize,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            dir: PathBuf::from("data/media"),
            max_image_bytes: 10 * 1024 * 1024,
            max_megapixels: market::service::images::DecodeLimits::DEFAULT_MEGAPIXELS,
            decodes_at_once: market::service::images::DecodeLimits::DEFAULT_AT_ONCE,
        }
    }
}

/// `[federation]`: ActivityPub settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Development mode: `http://` ids, ports and local addresses allowed. Never in production.
    pub debug: bool,
    /// Run the delivery worker in this process (turns listing changes into activities and
    /// retries due deliveries every 2 s).
    pub deliver: bool,
    /// `open`: federate with every server not blocked. `allowlist`: only with peer nodes our
    /// admin approved (`tianguis peer add` / `peer approve`), as a federation of co-ops.
    pub mode: FederationMode,
    /// How often the catalogs of peer nodes are asked again for what changed (heals a lost
    /// delivery), in seconds.
    pub reconcile_interval_secs: u64,
    /// Most pages of a peer's catalog read in one sync run (100 listings a page); the next run
    /// continues where this one stopped.
    pub catalog_page_limit: u64,
    /// Tests only, never from a file: resolve these host names to these addresses.
    #[serde(skip)]
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

/// `[federation] mode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FederationMode {
    /// Every server not blocked.
    #[default]
    Open,
    /// Only approved peers.
    Allowlist,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            debug: false,
            deliver: true,
            mode: FederationMode::Open,
            reconcile_interval_secs: 600,
            catalog_page_limit: 1000,
            resolve: Vec::new(),
        }
    }
}

/// `[orders]`: how this node's shops treat orders.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersConfig {
    /// Days an accepted order may stay unpaid before the shop's node cancels it and puts its
    /// items back on sale (0: never).
    pub payment_days: u32,
    /// Days an order may wait for a shop that accepts orders by hand before the node declines
    /// it for the shop, telling the buyer why (0: never).
    pub answer_days: u32,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            payment_days: 7,
            answer_days: 3,
        }
    }
}

/// `[coop]`: the co-op's economics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CoopConfig {
    /// The co-op's commission on each completed sale (items + shipping), in percent.
    pub commission_percent: f64,
    /// What receiving a payment costs the co-op, in percent of the sale (booked as a cost).
    pub payment_cost_percent: f64,
    /// The co-op's own currency (ISO 4217), that of member shares.
    pub currency: String,
    /// What one member share costs, in `currency` (a decimal string such as `"20.00"`).
    pub share_price: String,
    /// Who admits members: `admins` or `vote` (each application opens a members' vote).
    pub admission: AdmissionMode,
    /// Hours an admission vote stays open.
    pub admission_vote_hours: u32,
    /// Whether a member who leaves gets their share back.
    pub refund_share_on_leave: bool,
    /// Percent of a period's surplus kept as the co-op's reserve.
    pub reserve_percent: f64,
    /// Percent of a period's surplus returned as patronage dividends (with `reserve_percent`,
    /// 100).
    pub patronage_percent: f64,
    /// What patronage is measured by: `sales` (totals of a member's completed sales in the
    /// period) or `orders` (their number).
    pub patronage_measure: PatronageMeasureSetting,
    /// Default percent of members who must vote for a proposal's result to stand.
    pub quorum_percent: f64,
    /// Default percent of the votes cast an option must be more than to be adopted.
    pub threshold_percent: f64,
}

/// `[coop] admission`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionMode {
    /// Admins approve applications.
    #[default]
    Admins,
    /// Members vote on each application.
    Vote,
}

/// `[coop] patronage_measure`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PatronageMeasureSetting {
    /// Completed sales totals.
    #[default]
    Sales,
    /// Number of completed orders.
    Orders,
}

impl Default for CoopConfig {
    fn default() -> Self {
        CoopConfig {
            commission_percent: 5.0,
            payment_cost_percent: 0.0,
            currency: "EUR".into(),
            share_price: "20.00".into(),
            admission: AdmissionMode::Admins,
            admission_vote_hours: 168,
            refund_share_on_leave: true,
            reserve_percent: 30.0,
            patronage_percent: 70.0,
            patronage_measure: PatronageMeasureSetting::Sales,
            quorum_percent: 25.0,
            threshold_percent: 50.0,
        }
    }
}

impl CoopConfig {
    /// A percentage as basis points (1/100 of a percent).
    pub fn basis_points(percent: f64) -> u32 {
        (percent * 100.0).round().clamp(0.0, 10_000.0) as u32
    }

    /// The bylaws settings the services use; fails on an unknown currency or a bad price.
    pub fn bylaws(&self) -> anyhow::Result<market::bylaws::Bylaws> {
        use market::bylaws::{Admission, Bylaws, PatronageMeasure};
        let currency = market::types::Currency::parse(&self.currency)
            .map_err(|e| anyhow::anyhow!("coop.currency: {e}"))?;
        let share = market::types::Money::parse(&self.share_price, currency)
            .map_err(|e| anyhow::anyhow!("coop.share_price: {e}"))?;
        Ok(Bylaws {
            currency: currency.code().to_string(),
            share_price_minor: share.minor(),
            admission: match self.admission {
                AdmissionMode::Admins => Admission::Admins,
                AdmissionMode::Vote => Admission::Vote,
            },
            admission_vote_hours: self.admission_vote_hours,
            refund_share_on_leave: self.refund_share_on_leave,
            reserve_bp: Self::basis_points(self.reserve_percent),
            patronage_bp: Self::basis_points(self.patronage_percent),
            patronage_measure: match self.patronage_measure {
                PatronageMeasureSetting::Sales => PatronageMeasure::Sales,
                PatronageMeasureSetting::Orders => PatronageMeasure::Orders,
            },
            quorum_bp: Self::basis_points(self.quorum_percent),
            threshold_bp: Self::basis_points(self.threshold_percent),
        })
    }
}

/// `[report]`: the public transparency report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// The fee schedules of other platforms the report compares the co-op with (see the file's
    /// header for its format). When it is the default path and missing, the copy built into the
    /// binary is used (and a warning logged); any other missing path is an error.
    pub fee_schedules: PathBuf,
}

/// The default `[report] fee_schedules`: the file shipped in the repository.
pub const DEFAULT_FEE_SCHEDULES: &str = "fees/fee-schedules.toml";

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            fee_schedules: PathBuf::from(DEFAULT_FEE_SCHEDULES),
        }
    }
}

impl ReportConfig {
    /// Read and check the fee schedules file (see [`ReportConfig::fee_schedules`]).
    pub fn load_fee_schedules(
        &self,
    ) -> anyhow::Result<market::service::transparency::fees::FeeSchedules> {
        use market::service::transparency::fees::FeeSchedules;
        let path = &self.fee_schedules;
        if !path.is_file() {
            if path == Path::new(DEFAULT_FEE_SCHEDULES) {
                tracing::warn!(
                    path = %path.display(),
                    "fee schedules file not found: using the copy built into this binary"
                );
                return Ok(FeeSchedules::shipped()?);
            }
            anyhow::bail!(
                "report.fee_schedules: the file {} does not exist",
                path.display()
            );
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("report.fee_schedules: reading {}: {e}", path.display())
        })?;
        Ok(FeeSchedules::parse(&text, &path.display().to_string())?)
    }
}

/// `[log]`: logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (readable, the default) or `json` (one object per line).
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info` or `tianguis=debug,tower_http=debug`. `RUST_LOG` wins.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON lines.
    Json,
}

impl Config {
    /// Load the configuration as described in the module docs.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match explicit {
            Some(path) => {
                if !path.is_file() {
                    anyhow::bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None if Path::new("config.toml").is_file() => {
                figment = figment.merge(Toml::file("config.toml"));
            }
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed("TIANGUIS__").split("__"))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", one_line(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Parse a TOML document (no environment), for tests and `config.example.toml`.
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", one_line(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// A configuration for tests: in-memory SQLite, federation debug on.
    pub fn for_tests() -> Config {
        let mut config = Config::default();
        config.database.url = "sqlite::memory:".into();
        config.federation.debug = true;
        // Tests drain deliveries explicitly (`deliver_pending`), so no background worker races
        // them.
        config.federation.deliver = false;
        config.server.bind = "127.0.0.1:0".into();
        // Every test client comes from 127.0.0.1; the limit has a test of its own. No proxy is
        // trusted, as in production by default.
        config.server.registrations_per_hour = 0;
        config
    }

    /// Whether ids use `http://`: in debug mode, and for nodes on `localhost` or a loopback
    /// address, which cannot have a certificate anyway. Everything else is `https://`.
    pub fn insecure_http(&self) -> bool {
        let host = self.instance.domain.split(':').next().unwrap_or_default();
        self.federation.debug || host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }

    /// The SQLite database file, if the database is a SQLite file.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self.database.url.strip_prefix("sqlite:")?;
        if rest.contains(":memory:") || rest.contains("mode=memory") {
            return None;
        }
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        Some(PathBuf::from(path))
    }

    fn validate(&self) -> anyhow::Result<()> {
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            anyhow::bail!("database.url must start with sqlite: or postgres://, got {db:?}");
        }
        if self.instance.domain.trim().is_empty() {
            anyhow::bail!("instance.domain must not be empty");
        }
        for (name, value) in [
            ("coop.commission_percent", self.coop.commission_percent),
            ("coop.payment_cost_percent", self.coop.payment_cost_percent),
            ("coop.reserve_percent", self.coop.reserve_percent),
            ("coop.patronage_percent", self.coop.patronage_percent),
            ("coop.quorum_percent", self.coop.quorum_percent),
            ("coop.threshold_percent", self.coop.threshold_percent),
        ] {
            if !(0.0..=100.0).contains(&value) {
                anyhow::bail!("{name} must be between 0 and 100, got {value}");
            }
        }
        let allocated = CoopConfig::basis_points(self.coop.reserve_percent)
            + CoopConfig::basis_points(self.coop.patronage_percent);
        if allocated != 10_000 {
            anyhow::bail!(
                "coop.reserve_percent and coop.patronage_percent must add up to 100, got {}",
                f64::from(allocated) / 100.0
            );
        }
        if self.coop.admission_vote_hours == 0 || self.coop.admission_vote_hours > 24 * 90 {
            anyhow::bail!("coop.admission_vote_hours must be between 1 and 2160");
        }
        self.coop.bylaws()?;
        if self.report.fee_schedules.as_os_str().is_empty() {
            anyhow::bail!("report.fee_schedules must name a file");
        }
        if self.media.max_image_bytes == 0 || self.server.body_limit_bytes == 0 {
            anyhow::bail!("size limits must be above zero");
        }
        if self.media.max_megapixels == 0 || self.media.decodes_at_once == 0 {
            anyhow::bail!("media.max_megapixels and media.decodes_at_once must be above zero");
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn example_config_parses_and_documents_every_key() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config.example.toml"
        ))
        .unwrap();
        let parsed = Config::from_toml(&text).unwrap();
        // Every key of the struct appears in the example, so the example documents them all.
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        for (section, keys) in defaults.as_table().unwrap() {
            assert!(
                text.contains(&format!("[{section}]")),
                "section [{section}] missing"
            );
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    text.contains(&format!("\n{key} =")),
                    "key {section}.{key} missing"
                );
            }
        }
        assert_eq!(parsed.instance.domain, "coop.example");
    }

    #[test]
    fn defaults_are_the_embedded_node() {
        let config = Config::default();
        assert_eq!(config.server.bind, "127.0.0.1:8080");
        assert_eq!(config.instance.domain, "localhost:8080");
        assert_eq!(
            config.sqlite_file(),
            Some(PathBuf::from("data/tianguis.db"))
        );
        assert!(config.insecure_http());
    }

    #[test]
    fn the_fee_schedules_file_is_read_checked_or_built_in() {
        let shipped = ReportConfig::default().load_fee_schedules().unwrap();
        assert!(!shipped.schedules.is_empty(), "{}", shipped.origin);
        let dir = tempfile::tempdir().unwrap();
        let missing = ReportConfig {
            fee_schedules: dir.path().join("nope.toml"),
        };
        let err = missing.load_fee_schedules().unwrap_err().to_string();
        assert!(
            err.contains("report.fee_schedules") && err.contains("nope.toml"),
            "{err}"
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            market::service::transparency::fees::SHIPPED
                .replace("percent = \"6.5\"", "percent = \"six\""),
        )
        .unwrap();
        let err = ReportConfig { fee_schedules: bad }
            .load_fee_schedules()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.toml")
                && err.contains("schedule \"etsy-us\", fee \"Transaction fee\": percent"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        assert!(Config::from_toml("[server]\nbnd = \"x\"").is_err());
        assert!(Config::from_toml("[database]\nurl = \"mysql://x\"").is_err());
        assert!(
            Config::from_toml("[instance]\ndomain = \"coop.example\"")
                .is_ok_and(|c| !c.insecure_http())
        );
        let proxies = Config::from_toml("[server]\ntrusted_proxies = [\"::1\", \"10.0.0.0/8\"]");
        assert_eq!(proxies.unwrap().server.trusted_proxies.len(), 2);
        let named = Config::from_toml("[server]\ntrusted_proxies = [\"localhost\"]").unwrap_err();
        assert!(named.to_string().contains("CIDR"), "{named}");
    }
}
