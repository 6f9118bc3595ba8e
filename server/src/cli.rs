//! The `tianguis` command line: `serve`, `migrate`, and admin commands in the spirit of
//! Mastodon's `tootctl`. Admin commands open the same database as the running server (SQLite in
//! WAL mode tolerates both at once) and act with the operator's authority.

use std::{io::Read, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use market::{
    Context,
    service::{
        PageRequest, accounts,
        images::ImageUpload,
        listings::{self, ListingChanges, ListingDraft, ListingFilter, ListingView},
        shops::{self, Authority, NewShop, ShopChanges},
    },
    types::{Password, Username},
};

use crate::{config::Config, startup, telemetry};

/// Tianguis: a federated marketplace node for platform co-ops.
#[derive(Debug, Parser)]
#[command(name = "tianguis", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./config.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage shops.
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Manage listings.
    #[command(subcommand)]
    Listing(ListingCommand),
    /// The outgoing delivery queue.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// The domain blocklist: servers this node does not federate with.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Peer co-op nodes: federation agreements and catalog sync.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Orders this node holds (its buyers' and its shops'), for admins.
    #[command(subcommand)]
    Order(OrderCommand),
    /// The co-op's double-entry ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Membership of the co-op: applications, members, leaving.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Fiscal periods: closing one allocates its surplus (reserve, patronage dividends).
    #[command(subcommand)]
    Period(PeriodCommand),
    /// Proposals the members vote on.
    #[command(subcommand)]
    Proposal(ProposalCommand),
    /// The governance audit log.
    #[command(subcommand)]
    Governance(GovernanceCommand),
    /// The transparency report (the figures of /transparency), per period.
    Report {
        /// Only this period (`current` for the open one).
        #[arg(long)]
        period: Option<String>,
        /// Print the report as JSON (as `GET /api/v1/transparency`).
        #[arg(long)]
        json: bool,
    },
}

/// `tianguis member …`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Memberships: username, status, role, share, since.
    List {
        /// Only this status: applied, active, rejected or left.
        #[arg(long)]
        status: Option<String>,
    },
    /// Admit an applicant (when the bylaws let admins decide); books their share.
    Approve {
        /// The applicant's username.
        username: String,
    },
    /// Turn an application down.
    Reject {
        /// The applicant's username.
        username: String,
    },
    /// Make a member an admin.
    Promote {
        /// The member's username.
        username: String,
    },
    /// Make an admin an ordinary member (not the last admin).
    Demote {
        /// The admin's username.
        username: String,
    },
    /// Remove a member: their shops are closed (or transferred), their share refunded per
    /// the bylaws, and their account stays as a buyer.
    Remove {
        /// The member's username.
        username: String,
        /// Hand their shops to this member instead of closing them.
        #[arg(long)]
        transfer_to: Option<String>,
    },
}

/// `tianguis period …`
#[derive(Debug, Subcommand)]
pub enum PeriodCommand {
    /// Close a fiscal period: compute its surplus and allocate it per the bylaws.
    Close {
        /// Its label, such as 2026-Q4.
        label: String,
        /// Its end (RFC 3339); default now. It starts where the last closed period ended.
        #[arg(long)]
        until: Option<String>,
    },
    /// Closed periods with their surplus and allocation.
    List,
    /// One closed period, with every member's dividend.
    Show {
        /// The period's label.
        label: String,
    },
    /// A member's statement for a closed period.
    Statement {
        /// The period's label.
        label: String,
        /// The member.
        username: String,
    },
}

/// `tianguis proposal …`
#[derive(Debug, Subcommand)]
pub enum ProposalCommand {
    /// Proposals, open first: id, state, closes, turnout, title.
    List {
        /// Page (50 proposals a page).
        #[arg(long, default_value_t = 1)]
        page: u64,
    },
    /// One proposal: text, options, turnout, and the result once closed.
    Show {
        /// The proposal's id (as `list` prints it).
        id: String,
    },
    /// Close every proposal whose voting window has passed and announce the results (the
    /// running node does this on its own every 30 s).
    CloseDue,
}

/// `tianguis governance …`
#[derive(Debug, Subcommand)]
pub enum GovernanceCommand {
    /// The audit log, newest first: time, actor, event, proposal, detail.
    Log {
        /// Page (50 events a page).
        #[arg(long, default_value_t = 1)]
        page: u64,
    },
}

/// `tianguis ledger …`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Debits and credits of every account, by currency, and whether they balance.
    Balance,
    /// Every ledger line as CSV on standard output.
    Export,
    /// Pay out what the co-op owes (a seller's share, a member's dividends) from its cash.
    Pay {
        /// The liability, such as liabilities:seller_payable:pottery.
        account: String,
        /// The amount, as "58.42".
        #[arg(long)]
        amount: String,
        /// Its currency (ISO 4217).
        #[arg(long)]
        currency: String,
        /// A note (bank reference).
        #[arg(long, default_value = "")]
        memo: String,
    },
    /// Record an operating cost paid from the co-op's cash.
    Cost {
        /// The amount, as "12.00".
        #[arg(long)]
        amount: String,
        /// Its currency (ISO 4217).
        #[arg(long)]
        currency: String,
        /// What it paid for.
        #[arg(long)]
        memo: String,
    },
}

/// `tianguis order …`
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Orders, newest first: id, state, placed, buyer, shop, quantity × title, total.
    List {
        /// Only orders in this state (offered, accepted, paid, shipped, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only orders of this shop of ours.
        #[arg(long)]
        shop: Option<String>,
        /// Page (50 orders a page).
        #[arg(long, default_value_t = 1)]
        page: u64,
    },
    /// One order in full: figures, shipping, payment, timeline and messages.
    Show {
        /// The order's id (as `list` prints it).
        id: String,
    },
}

/// `tianguis peer …`
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Follow another node's instance actor (it approves, or accepts at once in open mode),
    /// then copy its whole catalog; shows progress until the copy is done.
    Add {
        /// The node's address, e.g. https://other.coop
        address: String,
        /// Return once the follow is queued instead of following the copy's progress.
        #[arg(long)]
        no_wait: bool,
        /// Give up following the progress after this many seconds (the copy goes on).
        #[arg(long, default_value_t = 120)]
        wait_secs: u64,
    },
    /// Approve a node: it may federate with us (allowlist mode); its pending request is
    /// accepted and we follow it back.
    Approve {
        /// Its domain, as `list` shows it.
        domain: String,
    },
    /// Every peer: who follows whom, listings copied, last sync.
    List,
    /// Copy what changed in a peer's catalog now, in this process, with a progress bar.
    Sync {
        /// Its domain, as `list` shows it.
        domain: String,
    },
    /// Stop federating with a node: undo our follow and forget its listings.
    Remove {
        /// Its domain, as `list` shows it.
        domain: String,
    },
}

/// `tianguis domain …`
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Block DOMAIN (`example.com` and its subdomains, `*.example.com` its subdomains only) and
    /// forget its actors, their follows and the deliveries waiting for it.
    Block {
        /// The domain.
        domain: String,
        /// Why (shown by `list`, exported as the public comment).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Federate with DOMAIN again.
    Unblock {
        /// The domain, as `list` shows it.
        domain: String,
    },
    /// Every blocked domain.
    List,
    /// Block every `suspend` entry of a Mastodon domain-block CSV file.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
    /// Print the blocklist as a Mastodon domain-block CSV.
    Export,
}

/// `tianguis deliveries …`
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Queue depth, oldest pending delivery, failing hosts.
    Status,
    /// Retry every pending delivery to HOST now (the running server sends them within seconds).
    Retry {
        /// The host, with its port if it has one (as `status` shows it).
        host: String,
    },
}

/// `tianguis user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Create {
        /// Login name: 1–30 of a-z, 0-9 and _.
        #[arg(long)]
        username: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (required; keeps it out of shell history).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
}

/// `tianguis shop …`
#[derive(Debug, Subcommand)]
pub enum ShopCommand {
    /// Open a shop for an existing account.
    Create {
        /// The shop's handle, the `pottery` in @pottery@your.domain.
        #[arg(long)]
        handle: String,
        /// Username of the member who runs it.
        #[arg(long)]
        owner: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A short description.
        #[arg(long)]
        bio: Option<String>,
        /// An image for the shop's avatar.
        #[arg(long)]
        avatar: Option<PathBuf>,
    },
    /// Change a shop's display name, bio, avatar, or how it answers followers and orders.
    Update {
        /// The shop's handle.
        handle: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New bio.
        #[arg(long)]
        bio: Option<String>,
        /// New avatar image.
        #[arg(long)]
        avatar: Option<PathBuf>,
        /// Whether follow requests wait for approval (true or false).
        #[arg(long)]
        approve_followers: Option<bool>,
        /// Whether orders wait for the owner to accept them (true or false).
        #[arg(long)]
        accept_orders_by_hand: Option<bool>,
    },
    /// List shops.
    List,
}

/// `tianguis listing …`
#[derive(Debug, Subcommand)]
pub enum ListingCommand {
    /// Publish a listing; prints its URL as the last line.
    Create(CreateListing),
    /// Change a listing given its URL (or id).
    Update(UpdateListing),
    /// Withdraw a listing given its URL (or id).
    Withdraw {
        /// The listing's URL.
        url: String,
    },
    /// List listings, newest first.
    List {
        /// Only this shop's listings.
        #[arg(long)]
        shop: Option<String>,
        /// Include withdrawn listings.
        #[arg(long)]
        all: bool,
    },
}

/// Arguments of `tianguis listing create`.
#[derive(Debug, Args)]
pub struct CreateListing {
    /// Shop handle.
    #[arg(long)]
    shop: String,
    /// Title.
    #[arg(long)]
    title: String,
    /// Price as a decimal, e.g. 28.00 (no more decimals than the currency has).
    #[arg(long, allow_negative_numbers = true)]
    price: String,
    /// ISO 4217 currency code, e.g. EUR.
    #[arg(long)]
    currency: String,
    /// Units for sale.
    #[arg(long, allow_negative_numbers = true)]
    stock: i64,
    /// A hashtag (repeat for more; at most 10).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Description in Markdown.
    #[arg(long)]
    description: Option<String>,
    /// An image file (repeat for more; at most 4). Each needs an --alt.
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    /// Alt text for the image given at the same position.
    #[arg(long = "alt")]
    alts: Vec<String>,
}

/// Arguments of `tianguis listing update`.
#[derive(Debug, Args)]
pub struct UpdateListing {
    /// The listing's URL.
    url: String,
    /// New title.
    #[arg(long)]
    title: Option<String>,
    /// New price.
    #[arg(long, allow_negative_numbers = true)]
    price: Option<String>,
    /// New currency.
    #[arg(long)]
    currency: Option<String>,
    /// New stock.
    #[arg(long, allow_negative_numbers = true)]
    stock: Option<i64>,
    /// New description (Markdown).
    #[arg(long)]
    description: Option<String>,
    /// Replace the tags (repeat for more).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Remove all tags.
    #[arg(long, conflicts_with = "tags")]
    clear_tags: bool,
}

/// Parse arguments; usage errors print one line and exit with status 2.
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                e.exit();
            }
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("{first} (see tianguis --help)");
            std::process::exit(2);
        }
    }
}

/// Run a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            admin_context(&config).await?;
            println!(
                "database is up to date ({})",
                startup::redact(&config.database.url)
            );
            Ok(())
        }
        Command::User(cmd) => user(&admin_context(&config).await?, cmd).await,
        Command::Shop(cmd) => shop(&admin_context(&config).await?, cmd).await,
        Command::Listing(cmd) => listing(&admin_context(&config).await?, cmd).await,
        Command::Deliveries(cmd) => deliveries(&admin_context(&config).await?, cmd).await,
        Command::Domain(cmd) => domain(&admin_context(&config).await?, cmd).await,
        Command::Peer(cmd) => peer(&config, cmd).await,
        Command::Order(cmd) => order(&admin_context(&config).await?, cmd).await,
        Command::Ledger(cmd) => ledger(&admin_context(&config).await?, cmd).await,
        Command::Member(cmd) => member(&admin_context(&config).await?, cmd).await,
        Command::Period(cmd) => period(&admin_context(&config).await?, cmd).await,
        Command::Proposal(cmd) => proposal(&config, cmd).await,
        Command::Governance(GovernanceCommand::Log { page }) => {
            governance_log(&admin_context(&config).await?, page).await
        }
        Command::Report { period, json } => {
            let schedules = config.report.load_fee_schedules()?;
            report(&admin_context(&config).await?, &schedules, period, json).await
        }
    }
}

async fn proposal(config: &Config, cmd: ProposalCommand) -> anyhow::Result<()> {
    use federation::governance as flow;
    let ctx = admin_context(config).await?;
    let options = federation::config::Options {
        debug: config.federation.debug,
        resolve: config.federation.resolve.clone(),
    };
    let federation = federation::config::build(ctx.clone(), &options).await?;
    let data = federation.to_request_data();
    let market = |e: federation::Error| anyhow::Error::new(e.into_market());
    match cmd {
        ProposalCommand::List { page } => {
            let page = PageRequest::parse(Some(page), Some(50))?;
            let found = flow::list(&data, page).await.map_err(market)?;
            println!("id\tstate\tcloses\tturnout\ttitle");
            for p in found.items {
                let state = match &p.result {
                    None => "open".to_string(),
                    Some(r) => match &r.adopted {
                        Some(option) => format!("adopted: {option}"),
                        None => "not adopted".to_string(),
                    },
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    p.id,
                    state,
                    p.closes_at.format("%Y-%m-%d %H:%M UTC"),
                    p.turnout,
                    p.title
                );
            }
        }
        ProposalCommand::Show { id } => {
            let p = flow::get(&data, &id).await.map_err(market)?;
            println!("{}", p.title);
            println!("id: {}", p.id);
            println!("kind: {}", p.kind);
            println!(
                "proposed by {} on {}",
                p.created_by,
                p.created_at.to_rfc3339()
            );
            println!("voting until {}", p.closes_at.to_rfc3339());
            println!(
                "quorum {}% of members, threshold more than {}% of votes cast",
                p.quorum, p.threshold
            );
            println!("options: {}", p.options.join(" | "));
            println!("url: {}", p.url);
            match &p.result {
                None => println!("open: {} members have voted", p.turnout),
                Some(r) => {
                    for c in &r.counts {
                        println!("  {}\t{}", c.option, c.votes);
                    }
                    println!(
                        "{} votes of {} members ({}%), quorum {}",
                        r.cast,
                        r.electorate,
                        r.turnout_percent,
                        if r.quorum_met { "met" } else { "not met" }
                    );
                    println!("{}", r.outcome);
                }
            }
            if !p.text.trim().is_empty() {
                println!();
                println!("{}", p.text);
            }
        }
        ProposalCommand::CloseDue => {
            let closed = flow::close_due(&data).await.map_err(market)?;
            if closed.is_empty() {
                println!("no proposal was due");
            }
            for c in closed {
                println!(
                    "{}\t{}\t{}",
                    c.proposal.id, c.proposal.title, c.results.outcome
                );
            }
        }
    }
    Ok(())
}

async fn governance_log(ctx: &Context, page: u64) -> anyhow::Result<()> {
    use market::service::governance::log;
    let page = PageRequest::parse(Some(page), Some(50))?;
    let found = log::page_of(ctx, page).await?;
    println!("at\tactor\tevent\tproposal\tdetail");
    for e in found.items {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            e.at.format("%Y-%m-%d %H:%M:%S UTC"),
            e.actor,
            e.kind,
            e.proposal_id.as_deref().unwrap_or("-"),
            e.detail
        );
    }
    Ok(())
}

async fn member(ctx: &Context, cmd: MemberCommand) -> anyhow::Result<()> {
    use market::service::membership::{self, Decider, Shops};
    match cmd {
        MemberCommand::List { status } => {
            for m in membership::list_with_status(ctx, status.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\tshare {} {}\tsince {}",
                    m.username,
                    m.status,
                    m.role,
                    m.share,
                    m.currency,
                    m.decided_at.unwrap_or(m.applied_at).format("%Y-%m-%d")
                );
            }
        }
        MemberCommand::Approve { ref username } | MemberCommand::Reject { ref username } => {
            let approve = matches!(cmd, MemberCommand::Approve { .. });
            let m = membership::decide(ctx, Decider::Operator, username, approve).await?;
            println!("{} is now {} ({})", m.username, m.status, m.role);
        }
        MemberCommand::Promote { ref username } | MemberCommand::Demote { ref username } => {
            let admin = matches!(cmd, MemberCommand::Promote { .. });
            let m = membership::set_admin(
                ctx,
                market::service::shops::Authority::Operator,
                username,
                admin,
            )
            .await?;
            println!("{} is now {}", m.username, m.role);
        }
        MemberCommand::Remove {
            username,
            transfer_to,
        } => {
            let shops = match transfer_to {
                Some(to) => Shops::TransferTo(to),
                None => Shops::Close,
            };
            let gone = membership::leave(
                ctx,
                market::service::shops::Authority::Operator,
                &username,
                shops,
            )
            .await?;
            println!("{} has left the co-op", gone.membership.username);
            for handle in &gone.closed_shops {
                println!("closed shop {handle} (its listings withdrawn)");
            }
            if let Some(to) = &gone.transferred_to {
                for handle in &gone.transferred_shops {
                    println!("shop {handle} now belongs to {to}");
                }
            }
            if let Some(refund) = &gone.refunded {
                println!("share refunded: {refund} {}", gone.membership.currency);
            }
        }
    }
    Ok(())
}

fn print_period(p: &market::service::periods::PeriodView, with_members: bool) {
    use market::types::Money;
    println!(
        "{}\t{} .. {}\tclosed {} by {}\treserve {}% patronage {}% by {}",
        p.label,
        p.starts_at.to_rfc3339(),
        p.ends_at.to_rfc3339(),
        p.closed_at.format("%Y-%m-%d %H:%M"),
        p.closed_by,
        p.reserve_percent,
        p.patronage_percent,
        p.patronage_measure
    );
    for r in &p.results {
        let m = |minor: i64| Money::display_minor(minor, &r.currency);
        println!(
            "  {}: revenue {} - expenses {} = surplus {}; reserve {}, dividends {} to {} member(s)",
            r.currency,
            m(r.revenue_minor),
            m(r.expenses_minor),
            m(r.surplus_minor),
            m(r.reserve_minor),
            m(r.dividends_minor),
            r.dividends.len()
        );
        if with_members {
            for d in &r.dividends {
                println!(
                    "    {}\tpatronage {}\tdividend {}",
                    d.username,
                    d.patronage,
                    m(d.dividend_minor)
                );
            }
        }
    }
}

async fn period(ctx: &Context, cmd: PeriodCommand) -> anyhow::Result<()> {
    use market::service::periods;
    match cmd {
        PeriodCommand::Close { label, until } => {
            let until = until
                .map(|u| {
                    chrono::DateTime::parse_from_rfc3339(&u)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .map_err(|_| {
                            market::Error::invalid(
                                "until",
                                "an RFC 3339 time such as 2026-12-31T23:59:59Z",
                            )
                        })
                })
                .transpose()?;
            let p = periods::close(ctx, "operator", &label, until).await?;
            print_period(&p, true);
        }
        PeriodCommand::List => {
            for p in periods::list(ctx).await? {
                print_period(&p, false);
            }
        }
        PeriodCommand::Show { label } => print_period(&periods::get(ctx, &label).await?, true),
        PeriodCommand::Statement { label, username } => {
            let s = periods::statement(ctx, &label, &username).await?;
            println!(
                "statement of {} for {} ({} .. {}), patronage by {}",
                s.username,
                s.period,
                s.starts_at.to_rfc3339(),
                s.ends_at.to_rfc3339(),
                s.patronage_measure
            );
            for l in &s.lines {
                println!(
                    "  {}: {} order(s), sales {}, commission {}, owed to you {}; patronage {} of {}; dividend {} (of {}; surplus {})",
                    l.currency,
                    l.orders,
                    l.sales,
                    l.commission,
                    l.seller_payable,
                    l.patronage,
                    l.total_patronage,
                    l.dividend,
                    l.dividends_total,
                    l.surplus
                );
            }
        }
    }
    Ok(())
}

async fn peer(config: &Config, cmd: PeerCommand) -> anyhow::Result<()> {
    use market::service::{catalog, peers};
    let ctx = admin_context(config).await?;
    let options = federation::config::Options {
        debug: config.federation.debug,
        resolve: config.federation.resolve.clone(),
    };
    let federation = federation::config::build(ctx.clone(), &options).await?;
    let data = federation.to_request_data();
    match cmd {
        PeerCommand::Add {
            address,
            no_wait,
            wait_secs,
        } => {
            let added = federation::peering::add(&data, &address).await?;
            let domain = added.peer.domain.clone();
            if added.follow_sent {
                println!(
                    "asked {domain} to federate (Follow from our instance actor queued; the running node sends it)"
                );
            } else {
                println!("already following {domain}");
            }
            if !no_wait {
                follow_progress(&ctx, &domain, std::time::Duration::from_secs(wait_secs)).await?;
            }
        }
        PeerCommand::Approve { domain } => {
            let added = federation::peering::approve(&data, &domain).await?;
            println!(
                "approved {}; {}",
                added.peer.domain,
                if added.follow_sent {
                    "following it back"
                } else {
                    "already following it"
                }
            );
        }
        PeerCommand::List => {
            let counts = catalog::count_by_origin(&ctx).await?;
            println!("domain\twe follow\tfollows us\tapproved\tlistings\tsynced\terror");
            for row in peers::list(&ctx).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    row.domain,
                    row.outgoing,
                    row.incoming,
                    if row.approved { "yes" } else { "no" },
                    counts.get(&row.domain).copied().unwrap_or(0),
                    row.synced_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "never".into()),
                    row.last_error.unwrap_or_default()
                );
            }
        }
        PeerCommand::Sync { domain } => {
            let row = peers::get(&ctx, &domain).await?;
            let bar = progress_bar(&row);
            let report = federation::peering::sync(&data, row.id, &mut |now| {
                update_bar(&bar, now);
            })
            .await?;
            bar.finish_and_clear();
            if report.busy {
                anyhow::bail!("{domain} is being synced by another process; try again shortly");
            }
            println!(
                "{}: {} pages, {} new, {} changed, {} withdrawn, {} unchanged, {} skipped{}",
                row.domain,
                report.pages,
                report.inserted,
                report.updated,
                report.deleted,
                report.unchanged,
                report.skipped,
                if report.capped {
                    " (page cap reached: run again to continue)"
                } else {
                    ""
                }
            );
        }
        PeerCommand::Remove { domain } => {
            let removed = federation::peering::remove(&data, &domain).await?;
            println!(
                "removed {}: forgot {} listings",
                removed.peer.domain, removed.listings
            );
        }
    }
    Ok(())
}

fn progress_bar(row: &market::entities::peer::Model) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(row.total_items.unwrap_or(0).max(0) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} listings ({elapsed})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("copying {}", row.domain));
    bar
}

fn update_bar(bar: &indicatif::ProgressBar, row: &market::entities::peer::Model) {
    if let Some(total) = row.total_items {
        bar.set_length(total.max(row.items_read).max(0) as u64);
    }
    bar.set_position(row.items_read.max(0) as u64);
}

/// Follow a peer's answer and the copy of its catalog (done by the running node) until it is
/// complete or `limit` passes.
async fn follow_progress(
    ctx: &Context,
    domain: &str,
    limit: std::time::Duration,
) -> anyhow::Result<()> {
    use market::{entities::peer::outgoing, service::peers};
    let deadline = std::time::Instant::now() + limit;
    let mut bar: Option<indicatif::ProgressBar> = None;
    let waiting = indicatif::ProgressBar::new_spinner();
    waiting.set_message(format!("waiting for {domain} to accept"));
    loop {
        let row = peers::get(ctx, domain).await?;
        if row.outgoing == outgoing::REJECTED {
            waiting.finish_and_clear();
            anyhow::bail!("{domain} declined to federate");
        }
        if row.outgoing == outgoing::ACCEPTED {
            waiting.finish_and_clear();
            let bar = bar.get_or_insert_with(|| progress_bar(&row));
            update_bar(bar, &row);
            if row.backfilled {
                bar.finish_and_clear();
                println!(
                    "copied {}'s catalog: {} listings read in {} pages",
                    domain, row.items_read, row.pages_read
                );
                return Ok(());
            }
        } else {
            waiting.tick();
        }
        if std::time::Instant::now() >= deadline {
            waiting.finish_and_clear();
            if let Some(bar) = &bar {
                bar.abandon();
            }
            println!(
                "still {} with {domain}; the node goes on in the background (see tianguis peer list)",
                if row.outgoing == outgoing::ACCEPTED {
                    "copying the catalog"
                } else {
                    "waiting for approval"
                }
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

async fn domain(ctx: &Context, cmd: DomainCommand) -> anyhow::Result<()> {
    use market::service::domains;
    match cmd {
        DomainCommand::Block { domain, reason } => {
            let (domain, purged) = domains::block(ctx, &domain, reason.as_deref()).await?;
            println!(
                "blocked {domain}: forgot {} actors (and their follows), {} copied listings and {} peers; refused {} waiting deliveries",
                purged.actors, purged.listings, purged.peers, purged.deliveries
            );
        }
        DomainCommand::Unblock { domain } => {
            if domains::unblock(ctx, &domain).await? {
                println!("unblocked {}", domains::normalize(&domain)?);
            } else {
                anyhow::bail!("{domain} is not blocked");
            }
        }
        DomainCommand::List => {
            for entry in domains::list(ctx).await? {
                match entry.reason {
                    Some(reason) => println!("{}\t{reason}", entry.domain),
                    None => println!("{}", entry.domain),
                }
            }
        }
        DomainCommand::Import { file } => {
            let csv = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let imported = domains::import_csv(ctx, &csv).await?;
            println!(
                "blocked {} domains, skipped {} (silence or noop); forgot {} actors, {} copied listings and {} peers; refused {} waiting deliveries",
                imported.blocked,
                imported.skipped,
                imported.purged.actors,
                imported.purged.listings,
                imported.purged.peers,
                imported.purged.deliveries
            );
        }
        DomainCommand::Export => {
            print!("{}", domains::to_csv(&domains::list(ctx).await?));
        }
    }
    Ok(())
}

/// Logging and the database for an admin command. Admin commands log warnings only, so their
/// output stays readable.
async fn admin_context(config: &Config) -> anyhow::Result<Context> {
    let mut log = config.log.clone();
    log.filter = "warn".into();
    telemetry::init(&log);
    startup::open_context(config).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let app = startup::Application::build(config.clone()).await?;
    let addr = app.local_addr()?;
    let base = app.context().instance.base_url.clone();
    tracing::info!(%addr, %base, database = %startup::redact(&config.database.url), "tianguis is serving");
    println!("tianguis listening on http://{addr} as {base}");
    app.run_until(startup::shutdown_signal()).await
}

async fn user(ctx: &Context, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            admin,
            password_stdin,
        } => {
            if !password_stdin {
                anyhow::bail!("give --password-stdin and pipe the password in");
            }
            let username = Username::parse(&username)?;
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the password from standard input")?;
            let password = Password::parse(input.trim_end_matches(['\n', '\r']))?;
            let user = accounts::create_user(ctx, &username, &password, admin).await?;
            println!("created {} {}", user.role, user.username);
        }
        UserCommand::List => {
            for user in accounts::list_users(ctx).await? {
                println!(
                    "{}\t{}\t{}",
                    user.username,
                    user.role,
                    user.created_at.format("%Y-%m-%d")
                );
            }
        }
    }
    Ok(())
}

async fn shop(ctx: &Context, cmd: ShopCommand) -> anyhow::Result<()> {
    match cmd {
        ShopCommand::Create {
            handle,
            owner,
            name,
            bio,
            avatar,
        } => {
            let new = NewShop::parse(&handle, &name, bio.as_deref())?;
            // Read the avatar before anything is written, so a bad path changes nothing.
            let avatar = avatar.map(|path| read_file(&path)).transpose()?;
            let owner = accounts::find_user(ctx, &owner).await?.ok_or_else(|| {
                anyhow::anyhow!("no account named {owner:?}; create it with tianguis user create")
            })?;
            let mut shop = shops::create_shop(ctx, &owner, new).await?;
            if let Some(bytes) = avatar {
                shop = match shops::set_avatar(ctx, Authority::Operator, &shop.handle, bytes).await
                {
                    Ok(shop) => shop,
                    Err(e) => {
                        shops::delete_shop(ctx, &shop.handle).await?;
                        return Err(e.into());
                    }
                };
            }
            println!(
                "created shop @{}@{} run by {}",
                shop.handle, ctx.instance.domain, owner.username
            );
            println!("{}", shop.ap_id);
        }
        ShopCommand::Update {
            handle,
            name,
            bio,
            avatar,
            approve_followers,
            accept_orders_by_hand,
        } => {
            let profile = name.is_some()
                || bio.is_some()
                || approve_followers.is_some()
                || accept_orders_by_hand.is_some();
            if !profile && avatar.is_none() {
                anyhow::bail!(
                    "nothing to change: give --name, --bio, --avatar, --approve-followers or \
                     --accept-orders-by-hand"
                );
            }
            let avatar = avatar.map(|path| read_file(&path)).transpose()?;
            let mut shop = shops::get_shop(ctx, &handle).await?;
            if profile {
                let changes = ShopChanges {
                    display_name: name,
                    bio,
                    manually_approves_followers: approve_followers,
                    accepts_orders_by_hand: accept_orders_by_hand,
                };
                shop = shops::update_shop(ctx, Authority::Operator, &handle, changes).await?;
            }
            if let Some(bytes) = avatar {
                shop = shops::set_avatar(ctx, Authority::Operator, &handle, bytes).await?;
            }
            println!("updated shop @{}: {}", shop.handle, shop.display_name);
            println!("{}", shop.ap_id);
        }
        ShopCommand::List => {
            for shop in shops::list_shops(ctx).await? {
                let owner = shops::owner_of(ctx, &shop).await?;
                println!(
                    "@{}\t{}\t{}\t{}",
                    shop.handle, shop.display_name, owner.username, shop.ap_id
                );
            }
        }
    }
    Ok(())
}

async fn listing(ctx: &Context, cmd: ListingCommand) -> anyhow::Result<()> {
    match cmd {
        ListingCommand::Create(args) => {
            if args.images.len() != args.alts.len() {
                anyhow::bail!(
                    "give one --alt for each --image ({} images, {} alt texts)",
                    args.images.len(),
                    args.alts.len()
                );
            }
            let draft = ListingDraft::parse(
                &args.title,
                args.description.as_deref(),
                &args.price,
                &args.currency,
                args.stock,
                &args.tags,
            )?;
            let mut uploads = Vec::with_capacity(args.images.len());
            for (path, alt) in args.images.iter().zip(args.alts) {
                uploads.push(ImageUpload {
                    bytes: read_file(path)?,
                    alt,
                });
            }
            let view =
                listings::create_listing(ctx, Authority::Operator, &args.shop, draft, uploads)
                    .await?;
            print_listing(&view);
            println!("{}", view.url);
        }
        ListingCommand::Update(args) => {
            let id = ctx.instance.listing_id_from_url(&args.url)?;
            let tags = if args.clear_tags {
                Some(Vec::new())
            } else if args.tags.is_empty() {
                None
            } else {
                Some(args.tags)
            };
            let changes = ListingChanges {
                title: args.title,
                description: args.description,
                price: args.price,
                currency: args.currency,
                stock: args.stock,
                tags,
            };
            let view = listings::update_listing(ctx, Authority::Operator, &id, changes).await?;
            print_listing(&view);
            println!("{}", view.url);
        }
        ListingCommand::Withdraw { url } => {
            let id = ctx.instance.listing_id_from_url(&url)?;
            let view = listings::withdraw_listing(ctx, Authority::Operator, &id).await?;
            println!("withdrawn: {}", view.title);
            println!("{}", view.url);
        }
        ListingCommand::List { shop, all } => {
            let shop_id = match shop {
                Some(handle) => Some(shops::get_shop(ctx, &handle).await?.id),
                None => None,
            };
            let filter = ListingFilter {
                shop_id,
                include_withdrawn: all,
                tag: None,
            };
            let mut page = PageRequest::parse(Some(1), Some(100))?;
            loop {
                let found = listings::list_listings(ctx, filter.clone(), page).await?;
                for l in &found.items {
                    println!(
                        "{}\t@{}\t{}\t{} {}\t{}\t{}",
                        l.url, l.shop.handle, l.title, l.price, l.currency, l.stock, l.status
                    );
                }
                if !found.has_next() {
                    break;
                }
                page.page += 1;
            }
        }
    }
    Ok(())
}

async fn report(
    ctx: &Context,
    schedules: &market::service::transparency::fees::FeeSchedules,
    period: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use market::service::transparency::{self, Allocation};
    let mut report = transparency::report(ctx, schedules).await?;
    if let Some(label) = &period {
        report.periods.retain(|p| &p.label == label);
        if report.periods.is_empty() {
            anyhow::bail!("no period labelled {label:?} (the open one is \"current\")");
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for p in &report.periods {
        let state = if p.open { "open" } else { "closed" };
        println!(
            "period {} ({state}, to {})",
            p.label,
            p.ends_at.to_rfc3339()
        );
        if p.currencies.is_empty() {
            println!("  no sales yet");
        }
        for c in &p.currencies {
            let cur = &c.currency;
            let take = c
                .take_rate_percent
                .map(|r| format!("{r} %"))
                .unwrap_or_else(|| "-".into());
            println!(
                "  {cur}: {} sales, {} items, take rate {take}",
                c.sales, c.items_sold
            );
            for (name, f) in [
                ("sales", &c.sales_total),
                ("commission", &c.commission),
                ("to sellers", &c.to_sellers),
                ("payment costs", &c.payment_costs),
                ("operating costs", &c.operating_costs),
                ("surplus", &c.surplus),
            ] {
                println!(
                    "    {name:<16}{:>12} {cur}  ({}; {} entries)",
                    f.amount,
                    f.trace.rule,
                    f.trace.entry_ids.len()
                );
            }
            match &c.allocation {
                Allocation::Allocated(s) => println!(
                    "    allocated: reserve {} {cur}, dividends {} {cur} to {} member(s)",
                    s.reserve.amount, s.dividends.amount, s.members_paid
                ),
                Allocation::NotYetAllocated => println!("    not allocated yet (period open)"),
            }
            for cmp in &c.comparison {
                match &cmp.unavailable {
                    Some(why) => println!("    {}: not priced ({why})", cmp.name),
                    None => println!(
                        "    {}: {} {cur} ({} % of sales), {}",
                        cmp.name,
                        cmp.total,
                        cmp.percent_of_sales
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        if cmp.difference_minor >= 0 {
                            format!("{} {cur} more than here", cmp.difference)
                        } else {
                            format!(
                                "{} {cur} less than here",
                                market::types::Money::display_minor(-cmp.difference_minor, cur)
                            )
                        }
                    ),
                }
            }
        }
    }
    println!("fee schedules: {}", report.fee_schedules);
    Ok(())
}

async fn ledger(ctx: &Context, cmd: LedgerCommand) -> anyhow::Result<()> {
    use market::service::ledger;
    match cmd {
        LedgerCommand::Balance => {
            let balances = ledger::trial_balance(ctx).await?;
            let mut totals: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
            for ((currency, account), b) in &balances {
                let money = |minor: i64| market::types::Money::display_minor(minor, currency);
                println!(
                    "{currency}\t{account}\tdebit {}\tcredit {}",
                    money(b.debit),
                    money(b.credit)
                );
                let total = totals.entry(currency.clone()).or_default();
                total.0 += b.debit;
                total.1 += b.credit;
            }
            for (currency, (debit, credit)) in totals {
                if debit != credit {
                    anyhow::bail!("{currency}: debits {debit} and credits {credit} differ");
                }
                println!("{currency}: balanced ({debit} minor units each side)");
            }
        }
        LedgerCommand::Export => print!("{}", ledger::export_csv(ctx).await?),
        LedgerCommand::Pay {
            account,
            amount,
            currency,
            memo,
        } => {
            let currency = market::types::Currency::parse(&currency)?;
            let amount = market::types::Money::parse(&amount, currency).map_err(|e| match e {
                market::Error::Invalid { reason, .. } => market::Error::invalid("amount", reason),
                other => other,
            })?;
            let entry = ledger::pay_out(ctx, &account, amount, &memo).await?;
            println!(
                "booked entry {}: paid {} {} to {account}",
                entry.id,
                amount.amount_string(),
                entry.currency
            );
        }
        LedgerCommand::Cost {
            amount,
            currency,
            memo,
        } => {
            let currency = market::types::Currency::parse(&currency)?;
            let amount = market::types::Money::parse(&amount, currency).map_err(|e| match e {
                market::Error::Invalid { reason, .. } => market::Error::invalid("amount", reason),
                other => other,
            })?;
            let entry = ledger::record_cost(ctx, amount, &memo).await?;
            println!(
                "booked entry {}: {} {} for {}",
                entry.id,
                amount.amount_string(),
                entry.currency,
                entry.memo
            );
        }
    }
    Ok(())
}

async fn order(ctx: &Context, cmd: OrderCommand) -> anyhow::Result<()> {
    use market::service::orders::{self, Scope, State};
    match cmd {
        OrderCommand::List { state, shop, page } => {
            let state = match state {
                Some(text) => Some(
                    State::parse(&text).ok_or_else(|| anyhow::anyhow!("no order state {text}"))?,
                ),
                None => None,
            };
            let scope = match shop {
                Some(handle) => Scope::Sold(shops::get_shop(ctx, &handle).await?.id),
                None => Scope::All,
            };
            let page = market::service::PageRequest::parse(Some(page), Some(50))?;
            let found = orders::list(ctx, scope, state, page).await?;
            for o in &found.items {
                let view = orders::summary(ctx, o, orders::Party::Seller)?;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{} × {}\t{} {}",
                    o.id,
                    o.state,
                    o.created_at.format("%Y-%m-%d %H:%M"),
                    o.buyer_name,
                    o.shop_name,
                    o.quantity,
                    o.title,
                    view.total,
                    o.currency
                );
            }
            if found.has_next() {
                eprintln!(
                    "{} orders in all; more with --page {}",
                    found.total,
                    found.page + 1
                );
            }
        }
        OrderCommand::Show { id } => {
            let id = uuid::Uuid::parse_str(id.trim())
                .map_err(|_| anyhow::anyhow!("{id} is not an order id"))?
                .to_string();
            let (row, party) = orders::access(ctx, shops::Authority::Operator, &id).await?;
            let view = orders::view(ctx, &row, party).await?;
            println!("order:     {}", view.id);
            if let Some(agreement) = &view.agreement_id {
                println!("agreement: {agreement}");
            }
            println!("state:     {}", view.state);
            println!("buyer:     {}", view.buyer);
            println!("shop:      {}", view.shop);
            println!("listing:   {} ({})", view.title, view.proposal);
            println!(
                "items:     {} × {} = {} {}",
                view.quantity, view.unit_price, view.items, view.currency
            );
            println!(
                "shipping:  {} ({} {})",
                view.shipping_name, view.shipping, view.currency
            );
            println!("total:     {} {}", view.total, view.currency);
            if let Some(a) = &view.address {
                let town = format!("{} {}", a.postal_code, a.city);
                println!(
                    "address:   {}, {}, {}, {}",
                    a.name,
                    a.street,
                    town.trim(),
                    a.country
                );
            }
            if let Some(reason) = &view.reason {
                println!("reason:    {reason}");
            }
            println!("timeline:");
            for e in &view.timeline {
                let note = e
                    .note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                println!(
                    "  {}  {:<10} by {}{note}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    e.state,
                    e.party
                );
            }
            if !view.messages.is_empty() {
                println!("messages:");
                for m in &view.messages {
                    println!(
                        "  {}  {}: {}",
                        m.at.format("%Y-%m-%d %H:%M"),
                        m.from,
                        m.content
                    );
                }
            }
        }
    }
    Ok(())
}

async fn deliveries(ctx: &Context, cmd: DeliveriesCommand) -> anyhow::Result<()> {
    use market::service::deliveries;
    match cmd {
        DeliveriesCommand::Status => {
            let status = deliveries::status(ctx).await?;
            let oldest = status
                .oldest_pending
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "-".into());
            println!("pending: {}", status.pending);
            println!("oldest pending: {oldest}");
            println!("given up: {}", status.failed);
            println!("refused by the receiver: {}", status.refused);
            println!("failing hosts: {}", status.failing_hosts.len());
            for host in status.failing_hosts {
                let error = host.last_error.unwrap_or_default();
                println!(
                    "  {}\t{} pending\t{} attempts\t{}",
                    host.host, host.pending, host.attempts, error
                );
            }
            println!("unavailable hosts: {}", status.unavailable_hosts.len());
            for host in status.unavailable_hosts {
                let probe = host
                    .next_probe_at
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "  {}\t{} pending\tfailed on {} days\tsince {}\tnext probe {probe}",
                    host.host,
                    host.pending,
                    host.failure_days,
                    host.since.format("%Y-%m-%d %H:%M UTC"),
                );
            }
        }
        DeliveriesCommand::Retry { host } => {
            let count = deliveries::retry_now(ctx, Some(&host)).await?;
            println!("{count} deliveries to {host} are due now; its failures are forgotten");
        }
    }
    Ok(())
}

fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading image {}", path.display()))
}

fn print_listing(view: &ListingView) {
    println!(
        "{} · {} {} · stock {} · {} · @{}",
        view.title, view.price, view.currency, view.stock, view.status, view.shop.handle
    );
}

/// Output piped into a reader that stops early (`tianguis listing list | head -1`): Rust's
/// `println!` then panics with "Broken pipe". Exit quietly instead, with the status a program
/// killed by SIGPIPE has (128 + 13), as other Unix tools do.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// The `tianguis` binary's whole `main`: parse, run, and on error print one line and exit 1.
pub async fn main() {
    quiet_on_closed_stdout();
    if let Err(e) = run(parse()).await {
        // One line: the error and its causes.
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}
