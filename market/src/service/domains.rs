//! The domain blocklist: servers this node does not federate with.
//!
//! An entry is `example.com` (that host and every subdomain, as Mastodon blocks), `*.example.com`
//! (subdomains only), or `host:port` (that one server; tests run nodes on `localhost` ports).
//! Entries are stored lower case, internationalised names as punycode. Activities from a blocked
//! domain are refused (403) before their signature is even checked, and blocking a domain
//! forgets what the node holds from it: its actors, their follows, and deliveries waiting for it.
//! The list imports and exports Mastodon's domain-block CSV.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::Expr,
};

use crate::{
    Context, Error, Result, db,
    entities::{delivery, domain_block, remote_actor},
    types::Text,
};

/// Normalise a blocklist entry, or say why it is not one.
pub fn normalize(entry: &str) -> Result<String> {
    let invalid = |why: &str| Error::invalid("domain", format!("{entry:?}: {why}"));
    let entry = entry.trim().trim_end_matches('.').to_lowercase();
    let (wildcard, rest) = match entry.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, entry.clone()),
    };
    if rest.is_empty() || rest.len() > 253 {
        return Err(invalid("a domain like example.com or *.example.com"));
    }
    // The port by hand: the URL parser drops a scheme's default one.
    let (rest, port) = match rest.rsplit_once(':') {
        Some((name, port)) => {
            let port: u16 = port.parse().map_err(|_| invalid("a port is a number"))?;
            if wildcard {
                return Err(invalid("a wildcard cannot have a port"));
            }
            // The scheme's default port names the same server as no port at all.
            (
                name.to_string(),
                Some(port).filter(|p| *p != 443 && *p != 80),
            )
        }
        None => (rest, None),
    };
    let url = url::Url::parse(&format!("http://{rest}/"))
        .map_err(|_| invalid("a domain like example.com or *.example.com"))?;
    let host = match url.host() {
        Some(url::Host::Domain(host))
            if host.split('.').all(|l| {
                !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }) =>
        {
            host.to_string()
        }
        Some(url::Host::Ipv4(ip)) if !wildcard => ip.to_string(),
        _ => return Err(invalid("a domain name")),
    };
    if url.path() != "/"
        || url.query().is_some()
        || !url.username().is_empty()
        || url.port().is_some()
    {
        return Err(invalid("a domain, not a URL"));
    }
    let mut normal = if wildcard { format!("*.{host}") } else { host };
    if let Some(port) = port {
        normal = format!("{normal}:{port}");
    }
    Ok(normal)
}

/// The entries that would block `host` (`host` or `host:port`): the host with its port, the host
/// and each parent domain, and wildcards of each parent.
pub fn candidates(host: &str) -> Vec<String> {
    let host = host.to_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => (name, Some(port)),
        _ => (host.as_str(), None),
    };
    let name = name.trim_end_matches('.');
    let mut out = Vec::new();
    if let Some(port) = port {
        out.push(format!("{name}:{port}"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for i in 0..labels.len() {
        let suffix = labels[i..].join(".");
        if i > 0 {
            out.push(format!("*.{suffix}"));
        }
        out.push(suffix);
    }
    out
}

/// Whether `entry` (normalised) blocks `host` (`host` or `host:port`).
pub fn blocks(entry: &str, host: &str) -> bool {
    candidates(host).iter().any(|c| c == entry)
}

/// The entry blocking `host`, if any.
pub async fn blocked_by(ctx: &Context, host: &str) -> Result<Option<String>> {
    Ok(domain_block::Entity::find()
        .filter(domain_block::Column::Domain.is_in(candidates(host)))
        .one(&ctx.db)
        .await?
        .map(|b| b.domain))
}

/// What blocking a domain removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Remote actors forgotten (their follows go with them).
    pub actors: u64,
    /// Deliveries that were waiting for the domain, now refused.
    pub deliveries: u64,
    /// Listings copied from its nodes, forgotten.
    pub listings: u64,
    /// Peer agreements with its nodes, ended.
    pub peers: u64,
}

/// Block `entry` and forget what the node holds from it. Blocking it again changes the reason.
pub async fn block(ctx: &Context, entry: &str, reason: Option<&str>) -> Result<(String, Purged)> {
    let domain = normalize(entry)?;
    let reason = Text::optional_lines("reason", reason, 500)?.map(Text::into_inner);
    let txn = db::begin_write(&ctx.db).await?;
    let existing = domain_block::Entity::find_by_id(domain.clone())
        .one(&txn)
        .await?;
    match existing {
        Some(_) => {
            domain_block::ActiveModel {
                domain: Set(domain.clone()),
                reason: Set(reason),
                ..Default::default()
            }
            .update(&txn)
            .await?;
        }
        None => {
            domain_block::ActiveModel {
                domain: Set(domain.clone()),
                reason: Set(reason),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
        }
    }
    let actors: Vec<i32> = remote_actor::Entity::find()
        .select_only()
        .column(remote_actor::Column::Id)
        .column(remote_actor::Column::Domain)
        .into_tuple::<(i32, String)>()
        .all(&txn)
        .await?
        .into_iter()
        .filter(|(_, host)| blocks(&domain, host))
        .map(|(id, _)| id)
        .collect();
    let mut purged = Purged::default();
    if !actors.is_empty() {
        purged.actors = remote_actor::Entity::delete_many()
            .filter(remote_actor::Column::Id.is_in(actors))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    let hosts: Vec<String> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Host)
        .distinct()
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .into_tuple::<String>()
        .all(&txn)
        .await?
        .into_iter()
        .filter(|host| blocks(&domain, host))
        .collect();
    if !hosts.is_empty() {
        purged.deliveries = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::State,
                Expr::value(delivery::STATE_REFUSED),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(format!("domain blocked ({domain})")),
            )
            .col_expr(delivery::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
            .filter(delivery::Column::Host.is_in(hosts))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    txn.commit().await?;
    // After the block is in place (nothing new arrives from it), what was copied goes.
    purged.listings = crate::service::catalog::purge_blocked(ctx, &domain).await?;
    purged.peers = crate::service::peers::remove_blocked(ctx, &domain).await?;
    Ok((domain, purged))
}

/// Unblock `entry`. Returns whether it was blocked.
pub async fn unblock(ctx: &Context, entry: &str) -> Result<bool> {
    let domain = normalize(entry)?;
    Ok(domain_block::Entity::delete_by_id(domain)
        .exec(&ctx.db)
        .await?
        .rows_affected
        > 0)
}

/// Every entry, alphabetically.
pub async fn list(ctx: &Context) -> Result<Vec<domain_block::Model>> {
    Ok(domain_block::Entity::find()
        .order_by_asc(domain_block::Column::Domain)
        .all(&ctx.db)
        .await?)
}

/// The header of Mastodon's domain-block CSV (admin, federation, export).
pub const CSV_HEADER: &str =
    "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate";

/// The blocklist as Mastodon's domain-block CSV: every entry a `suspend`.
pub fn to_csv(entries: &[domain_block::Model]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for entry in entries {
        let reason = entry.reason.as_deref().unwrap_or_default();
        out.push_str(&format!(
            "{},suspend,true,true,{},false\n",
            csv_field(&entry.domain),
            csv_field(reason)
        ));
    }
    out
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Split one CSV record (RFC 4180 quoting; no newlines inside fields).
fn csv_record(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Entries blocked (new or already there).
    pub blocked: u64,
    /// `silence` and `noop` entries, which this node has no equivalent for.
    pub skipped: u64,
    /// What blocking them removed.
    pub purged: Purged,
}

/// Import Mastodon's domain-block CSV (with or without its header): `suspend` entries are
/// blocked, with `#public_comment` as the reason; `silence` and `noop` are skipped. A line that
/// is not a valid entry stops the import before anything is written, naming the line.
pub async fn import_csv(ctx: &Context, csv: &str) -> Result<Imported> {
    let mut wanted = Vec::new();
    let mut imported = Imported::default();
    let mut columns: Vec<String> = vec!["#domain".into(), "#severity".into()];
    let mut first = true;
    for (n, line) in csv.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let record = csv_record(line);
        let header = std::mem::take(&mut first)
            && record
                .first()
                .is_some_and(|f| f.trim().trim_start_matches('#') == "domain");
        if header {
            columns = record.iter().map(|c| c.trim().to_string()).collect();
            continue;
        }
        let field = |name: &str| {
            columns
                .iter()
                .position(|c| c.trim_start_matches('#') == name)
                .and_then(|i| record.get(i))
                .map(|v| v.trim().to_string())
        };
        let domain = field("domain").unwrap_or_default();
        let severity = field("severity").unwrap_or_else(|| "suspend".into());
        match severity.as_str() {
            "suspend" | "" => {}
            "silence" | "noop" => {
                imported.skipped += 1;
                continue;
            }
            other => {
                return Err(Error::invalid(
                    "csv",
                    format!("line {}: unknown severity {other:?}", n + 1),
                ));
            }
        }
        let normal = normalize(&domain)
            .map_err(|e| Error::invalid("csv", format!("line {}: {e}", n + 1)))?;
        wanted.push((normal, field("public_comment")));
    }
    for (domain, reason) in wanted {
        let (_, purged) = block(ctx, &domain, reason.as_deref()).await?;
        imported.blocked += 1;
        imported.purged.actors += purged.actors;
        imported.purged.deliveries += purged.deliveries;
        imported.purged.listings += purged.listings;
        imported.purged.peers += purged.peers;
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn entries_are_normalised_or_refused() {
        assert_eq!(normalize(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(normalize("*.Example.com").unwrap(), "*.example.com");
        assert_eq!(normalize("localhost:4000").unwrap(), "localhost:4000");
        assert_eq!(normalize("example.com:443").unwrap(), "example.com");
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "*.",
            "https://example.com/x",
            "a b",
            "*.x:80",
            "user@x.com",
            "*.1.2.3.4",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_entry_blocks_its_subdomains_a_wildcard_only_them() {
        assert!(blocks("example.com", "example.com"));
        assert!(blocks("example.com", "shop.example.com:8443"));
        assert!(!blocks("example.com", "badexample.com"));
        assert!(blocks("*.example.com", "a.b.example.com"));
        assert!(!blocks("*.example.com", "example.com"));
        assert!(blocks("localhost:4000", "localhost:4000"));
        assert!(!blocks("localhost:4000", "localhost:4001"));
        assert!(blocks("localhost", "localhost:4001"));
        assert!(blocks("example.com", "spam.example.com."), "a trailing dot");
    }

    #[test]
    fn csv_round_trips_quotes_and_commas() {
        let rows = vec![domain_block::Model {
            domain: "spam.example".into(),
            reason: Some("spam, \"scams\"".into()),
            created_at: Utc::now(),
        }];
        let csv = to_csv(&rows);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(
            csv_record(line),
            [
                "spam.example",
                "suspend",
                "true",
                "true",
                "spam, \"scams\"",
                "false"
            ]
        );
    }
}
