//! `groundwork`: the terminal client over groundwork-core, for group leads, scripts and tests.
//!
//! Contract: `groundwork --data DIR <command> [--json]`. With `--json`, every command prints one
//! JSON value on stdout; errors go to stderr and the exit code is non-zero (1 for a refused or
//! failed command, 2 for a malformed command line).

mod commands;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use groundwork_core::identity::Role;
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Office, Position,
    Visibility,
};

/// Groundwork: plans, rule-by-rule answers and canvass contacts for Freedom Cities groups,
/// offline first.
#[derive(Parser, Debug)]
#[command(name = "groundwork", version, propagate_version = true)]
struct Cli {
    /// The data directory holding this device's store [default: the platform's data directory]
    #[arg(long, global = true, env = "GROUNDWORK_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print one JSON value on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The store's key file (64 hex digits, mode 0600) [default: DIR/store.key, made by init].
    /// GROUNDWORK_STORE_KEY (64 hex digits) takes precedence.
    #[arg(long, global = true, env = "GROUNDWORK_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create this device: its store and its identity.
    Init {
        /// A name for this device or its owner, shown to the group.
        #[arg(long)]
        name: String,
    },
    /// Show this device's id and name.
    Whoami,
    /// Create and list groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Invite devices into a group.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Join a group with an invite link or code: the relay it names checks it. Prints
    /// {"group_id"}.
    Join {
        /// The invite link (groundwork://join?invite=...) or code (gw1....).
        code: String,
        /// The relay's WebSocket URL [default: the one the invite names, else the remembered one]
        #[arg(long, env = "GROUNDWORK_RELAY")]
        relay: Option<String>,
    },
    /// A group's members; remove one.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Mint a short-lived token that lets a plain automerge-repo client act as this device in
    /// one group (passed as `?token=` in the relay URL). Prints {"token", "expires_at"}.
    Token {
        /// The group.
        group: String,
        #[command(flatten)]
        relay: RelayArg,
        /// Lifetime in seconds (at most an hour).
        #[arg(long, default_value_t = 600)]
        ttl: u64,
    },
    /// Present the relay operator's sign-up code, allowing this device to create groups there.
    Signup {
        /// The code.
        code: String,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// Officials the group asks to adopt the model rules.
    #[command(subcommand)]
    Target(TargetCommand),
    /// Organizing meetings and meetings with officials.
    #[command(subcommand)]
    Meeting(MeetingCommand),
    /// Action items.
    #[command(subcommand)]
    Action(ActionCommand),
    /// Officials' answers, rule by rule.
    #[command(subcommand)]
    Response(ResponseCommand),
    /// One row per target and rule: existing policy, position, conditions.
    Scorecard {
        /// The group.
        group: String,
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
    },
    /// Canvass contacts.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// The model rules: codes, titles, summaries.
    Rules,
    /// For campaign staff (a role the relay's operator grants): every sharing group's
    /// officials and answers, rule by rule.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// County boards: every sharing group's officials, meetings and latest answers in a county
    /// where a group of this device shares an official (synced; read offline).
    #[command(subcommand)]
    Board(BoardCommand),
    /// The relay's campaign dashboard in a browser (campaign staff).
    #[command(subcommand)]
    Dashboard(DashboardCommand),
    /// The county directory that ships with the program (offline).
    #[command(subcommand)]
    Places(PlacesCommand),
    /// Maintenance of the device store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// The relay this device syncs with, and moving its groups to another on purpose.
    #[command(subcommand)]
    Relay(RelayCommand),
    /// Sync every document with the relay. Shows progress on stderr (not with --json).
    Sync {
        #[command(flatten)]
        relay: RelayArg,
        /// Sync once and exit: 0 only when everything is synced.
        #[arg(long)]
        once: bool,
        /// Give up a round after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// The relay connection, and per document: synced with the relay or not, and since when.
    Status,
    /// Print a shell completion script: `groundwork completions bash > ~/.local/share/bash-completion/completions/groundwork`.
    Completions {
        /// bash | zsh | fish | elvish | powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `groundwork man | man -l -`.
    Man,
}

/// Which relay to talk to.
#[derive(Args, Debug)]
struct RelayArg {
    /// The relay's WebSocket URL, e.g. ws://127.0.0.1:7878/v1/sync [default: the one this
    /// device last reached, remembered from a join or a sync]
    #[arg(long, env = "GROUNDWORK_RELAY", value_name = "URL")]
    relay: Option<String>,
}

#[derive(Subcommand, Debug)]
enum RelayCommand {
    /// The relay this device syncs with, and the other addresses it said it answers at.
    Show,
    /// Move this device's groups to another relay. A device with groups dials only its own
    /// relay (a mistyped --relay is refused); this is how it changes. Without --yes it says
    /// what it would upload and sends nothing; with --yes it syncs every group's documents
    /// there and makes it this device's relay.
    Move {
        /// The new relay's WebSocket URL.
        url: String,
        /// Do it.
        #[arg(long)]
        yes: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

#[derive(Subcommand, Debug)]
enum CampaignCommand {
    /// The officials sharing groups ask, with the latest answer per rule.
    Officials {
        /// Only this state (USPS code, e.g. TX).
        #[arg(long)]
        state: Option<String>,
        /// Only this office.
        #[arg(long)]
        office: Option<Office>,
        /// Only officials with a latest answer in this position.
        #[arg(long)]
        position: Option<Position>,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// One official: every sharing group's reports, conditions, legal basis and meetings.
    Official {
        /// The official's key, FIPS/office[/place] (from `campaign officials`).
        key: String,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// Every official's latest answer per rule as CSV: one row per official and rule.
    Export {
        /// The file to write.
        #[arg(long)]
        csv: PathBuf,
        #[command(flatten)]
        relay: RelayArg,
    },
}

#[derive(Subcommand, Debug)]
enum DashboardCommand {
    /// Print a one-time link that signs a browser in (works once, for ten minutes).
    Login {
        #[command(flatten)]
        relay: RelayArg,
    },
}

#[derive(Subcommand, Debug)]
enum BoardCommand {
    /// The boards on this device, by county.
    List,
    /// One county's board: the officials, the groups asking, their meetings, the answers.
    Show {
        /// The county's FIPS code.
        county: String,
    },
    /// Follow a county's board (a neighbouring county, one your groups do not target yet):
    /// the relay serves it from the next sync on. Leads, members and campaign staff.
    Follow {
        /// The county's FIPS code (`places search NAME` finds it).
        county: String,
        #[command(flatten)]
        relay: RelayArg,
    },
    /// Stop following a county's board; it leaves this device unless a group of yours asks
    /// an official there.
    Unfollow {
        /// The county's FIPS code.
        county: String,
        #[command(flatten)]
        relay: RelayArg,
    },
}

#[derive(Subcommand, Debug)]
enum PlacesCommand {
    /// Find a county by name (optionally with its state) or FIPS code: "Travis County, TX".
    Search {
        /// What to look for.
        text: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// Create a group, with this device as its lead.
    Create {
        /// The group's name.
        #[arg(long)]
        name: String,
        /// Where the group works, e.g. "Travis County, TX".
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// List the groups on this device.
    List,
    /// How many months of contacts the group keeps (leads only): the current month and the
    /// ones before it. Older months' contacts are erased on this device at once, and on the
    /// relay and every device as the setting reaches them (not only hidden: their bytes go).
    Retention {
        /// The group.
        group: String,
        /// Months (1 to 120), or `off` to keep everything.
        months: String,
        /// First write the contacts about to be erased to this CSV file.
        #[arg(long)]
        export: Option<std::path::PathBuf>,
    },
    /// Share the group's targets, official meetings (status and time), rule responses and
    /// canvass counts with the campaign, or stop (leads only; on by default). Never contacts'
    /// details, notes or agendas.
    Share {
        /// The group.
        group: String,
        /// on | off
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
}

#[derive(Subcommand, Debug)]
enum InviteCommand {
    /// Sign an invite to a group this device leads (works offline). Prints {"code"}.
    Create {
        /// The group.
        group: String,
        /// lead | member | canvasser
        #[arg(long)]
        role: Role,
        /// How many devices may join with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays good, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "7d")]
        expires: String,
        #[command(flatten)]
        link: LinkArgs,
    },
    /// Sign a one-use invite for another device of your own, at your role (any member may).
    /// Either device can then report the other lost with `member remove`.
    OwnDevice {
        /// The group.
        group: String,
        /// How long it stays good, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "1d")]
        expires: String,
        #[command(flatten)]
        link: LinkArgs,
    },
}

/// Where an invite is redeemed, and how it is shown.
#[derive(Args, Debug)]
struct LinkArgs {
    /// The relay the invite sends joiners to (signed into it) [default: the one this device
    /// last reached]
    #[arg(long, env = "GROUNDWORK_RELAY", value_name = "URL")]
    relay: Option<String>,
    /// Also draw the join link as a QR code, for a phone to scan.
    #[arg(long)]
    qr: bool,
}

#[derive(Subcommand, Debug)]
enum MemberCommand {
    /// The group's members and roles, from its roster (as last synced).
    List {
        /// The group.
        group: String,
    },
    /// Remove a device from a group (a lead; or anyone, for another device of their own, e.g.
    /// a lost phone). The relay stops serving it at once and tells it to wipe the group when it
    /// next connects.
    Remove {
        /// The group.
        group: String,
        /// The device to remove.
        device: String,
        #[command(flatten)]
        relay: RelayArg,
    },
}

#[derive(Subcommand, Debug)]
enum TargetCommand {
    /// Add an official to ask: by county and office (so groups asking the same official find
    /// each other), or by name and title alone.
    Add {
        /// The group.
        group: String,
        /// The official's name [default with --office: the office and county].
        #[arg(long, required_unless_present = "office")]
        name: Option<String>,
        /// Their title, e.g. Sheriff [default with --office: the office's].
        #[arg(long, required_unless_present = "office")]
        title: Option<String>,
        /// The county, by its 5-digit FIPS code (`groundwork places search NAME`).
        #[arg(long, requires = "office", value_name = "FIPS")]
        county: Option<String>,
        /// sheriff | police-chief | precinct-commander | mayor | city-council |
        /// state-legislator | school-board | other
        #[arg(long, requires = "county")]
        office: Option<Office>,
        /// The city or precinct, for offices below the county.
        #[arg(long, requires = "office", value_name = "NAME")]
        place: Option<String>,
        /// Their agency.
        #[arg(long)]
        agency: Option<String>,
        /// Their jurisdiction.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// state | county | city | town | precinct | campus | other
        #[arg(long)]
        level: Option<Level>,
    },
    /// List a group's targets.
    List {
        /// The group.
        group: String,
    },
}

#[derive(Subcommand, Debug)]
enum MeetingCommand {
    /// Create a meeting (status: draft).
    Create {
        /// The group.
        group: String,
        /// organizing | official
        #[arg(long)]
        kind: MeetingKind,
        /// A short title.
        #[arg(long)]
        title: String,
        /// The official to meet (required for official meetings).
        #[arg(long)]
        target: Option<String>,
        /// When, as RFC 3339, e.g. 2026-12-01T18:30:00-06:00
        #[arg(long)]
        at: Option<String>,
        /// Where.
        #[arg(long)]
        location: Option<String>,
    },
    /// Add an item to a meeting's agenda.
    Agenda {
        /// The meeting.
        meeting: String,
        /// The item to add.
        #[arg(long)]
        add: String,
    },
    /// Add to a meeting's shared notes.
    Notes {
        /// The meeting.
        meeting: String,
        /// The text to append.
        #[arg(long)]
        append: String,
    },
    /// Set a meeting's status.
    Status {
        /// The meeting.
        meeting: String,
        /// draft | requested | scheduled | held | declined | no-response | cancelled
        status: MeetingStatus,
    },
    /// Choose who beyond the group sees a meeting (leads only): private (the campaign sees an
    /// official meeting's status and time), shared (its place too), public (the public map).
    Share {
        /// The meeting.
        meeting: String,
        /// private | shared | public
        visibility: Visibility,
    },
    /// Show a meeting to the group's canvassers, or stop (leads only). Canvassers' devices
    /// hold no plan: they see the group's name, its leads, its officials, and the meetings
    /// shown to them (shared and public ones too), with title, time, place and status only.
    Canvassers {
        /// The meeting.
        meeting: String,
        /// show | hide
        #[arg(value_parser = ["show", "hide"])]
        setting: String,
    },
    /// Mark a meeting as the same as another group's on the county's board, when the office
    /// combined the requests (leads only); the board then shows one meeting with both groups.
    JoinBoard {
        /// This group's meeting.
        meeting: String,
        /// The board's meeting, GROUP/MEETING (`board show --json` lists them); `none` undoes.
        board_meeting: String,
    },
    /// Show a meeting in full.
    Show {
        /// The meeting.
        meeting: String,
    },
    /// List a group's meetings.
    List {
        /// The group.
        group: String,
    },
}

#[derive(Subcommand, Debug)]
enum ActionCommand {
    /// Add an action item.
    Add {
        /// The group.
        group: String,
        /// What is to be done.
        #[arg(long)]
        title: String,
        /// Who does it.
        #[arg(long)]
        assignee: Option<String>,
        /// By when, as a date: 2026-12-01
        #[arg(long)]
        due: Option<String>,
    },
    /// Mark an action item done.
    Done {
        /// The action item.
        id: String,
    },
    /// List a group's action items.
    List {
        /// The group.
        group: String,
    },
}

#[derive(Subcommand, Debug)]
enum ResponseCommand {
    /// Record what a target answered for one rule.
    Record(RecordResponse),
}

#[derive(Args, Debug)]
struct RecordResponse {
    /// The group.
    group: String,
    /// The target who answered.
    #[arg(long)]
    target: String,
    /// R1 .. R9, R1373
    #[arg(long)]
    rule: RuleCode,
    /// in-place | in-practice | partial | none | unknown
    #[arg(long)]
    existing: ExistingPolicy,
    /// already-in-place | will-support | supports-with-changes | will-consider | opposes | no-answer
    #[arg(long)]
    position: Position,
    /// Conditions they named.
    #[arg(long)]
    conditions: Option<String>,
    /// The legal basis they cited.
    #[arg(long)]
    legal_basis: Option<String>,
    /// The meeting where they answered.
    #[arg(long)]
    meeting: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ContactCommand {
    /// Log a contact. Saved when the command returns.
    Log(LogContact),
    /// List a group's contacts, newest first, a page at a time.
    List {
        /// The group.
        group: String,
        /// Only this result.
        #[arg(long)]
        result: Option<ContactResult>,
        /// Page size.
        #[arg(long, default_value_t = 50, conflicts_with = "all")]
        limit: u32,
        /// Start after this contact id (the `next` of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// Every contact (after --after), streamed a row at a time.
        #[arg(long)]
        all: bool,
    },
    /// Export every contact of a group to CSV.
    Export {
        /// The group.
        group: String,
        /// The file to write.
        #[arg(long)]
        csv: PathBuf,
    },
}

#[derive(Args, Debug)]
struct LogContact {
    /// The group.
    group: String,
    /// talked | not-home | refused | moved | inaccessible | language-barrier | wrong-address | other
    #[arg(long)]
    result: ContactResult,
    /// Support for the campaign, 1 to 5.
    #[arg(long)]
    support: Option<u8>,
    /// Turf or address.
    #[arg(long)]
    place: Option<String>,
    /// A note.
    #[arg(long)]
    note: Option<String>,
    /// attend | host | volunteer (repeatable)
    #[arg(long = "interest")]
    interests: Vec<Interest>,
    /// Someone should follow up.
    #[arg(long)]
    follow_up: bool,
    /// The person consented to their details being recorded.
    #[arg(long)]
    consent: bool,
    /// Their name (needs --consent).
    #[arg(long)]
    name: Option<String>,
    /// Their phone (needs --consent).
    #[arg(long)]
    phone: Option<String>,
    /// Their email (needs --consent).
    #[arg(long)]
    email: Option<String>,
    /// When it happened (RFC 3339), for a contact typed in later from a paper sheet; default
    /// now. It goes in the document of that month.
    #[arg(long)]
    at: Option<String>,
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Rebuild the query index from the documents.
    RebuildIndex,
    /// Fold every document's chunks into a snapshot now.
    Compact,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            eprintln!("groundwork: {}", invalid_utf8());
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(
            *shell,
            &mut <Cli as clap::CommandFactory>::command(),
            "groundwork",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    if let Command::Man = &cli.command {
        let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
        return match man.render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("groundwork: writing the manual page: {e}");
                ExitCode::from(1)
            }
        };
    }
    init_log();
    let json = cli.json;
    match commands::run(cli) {
        Ok(out) if out.streamed => ExitCode::SUCCESS,
        Ok(out) => {
            if json {
                println!("{}", out.json);
            } else {
                print!("{}", out.text);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let message = format!("{e:#}");
            if json {
                eprintln!("{}", serde_json::json!({ "error": message }));
            } else {
                // An error can quote the relay or a document: it cannot drive the terminal.
                eprintln!("groundwork: {}", render::clean_prose(&message));
            }
            ExitCode::from(1)
        }
    }
}

/// Logs to stderr at `GROUNDWORK_LOG`'s levels (default `warn`), with the dependencies that
/// print sync frames, document values or credentials at their most verbose levels held to
/// core's caps whatever `GROUNDWORK_LOG` says.
fn init_log() {
    use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let wanted =
        EnvFilter::try_from_env("GROUNDWORK_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            groundwork_core::logging::DEPENDENCY_LOG_CAPS
                .iter()
                .copied(),
        );
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(wanted.and(caps)),
        )
        .init();
}

/// Which argument is not valid UTF-8: clap only says that one is. A path (`--data`, `--csv`)
/// may be any bytes, so each argument that is not UTF-8 is tried alone, the others made
/// valid, to find those clap refuses.
fn invalid_utf8() -> String {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let bad: Vec<usize> = (1..args.len())
        .filter(|&i| args[i].to_str().is_none())
        .collect();
    let refused: Vec<String> = bad
        .iter()
        .filter(|&&i| {
            let trial = args.iter().enumerate().map(|(j, a)| {
                if j != i && bad.contains(&j) {
                    a.to_string_lossy().into_owned().into()
                } else {
                    a.clone()
                }
            });
            matches!(Cli::try_parse_from(trial),
                Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8)
        })
        .map(|&i| {
            let bytes = args[i].as_encoded_bytes();
            // `--name=VALUE`, or `--name VALUE`.
            let flag = bytes
                .iter()
                .position(|&b| b == b'=')
                .and_then(|eq| std::str::from_utf8(&bytes[..eq]).ok())
                .filter(|f| f.starts_with("--"))
                .or_else(|| args[i - 1].to_str().filter(|p| p.starts_with('-')));
            match flag {
                Some(flag) => format!("the value of {flag} ({:?})", args[i]),
                None => format!("argument {i} ({:?})", args[i]),
            }
        })
        .collect();
    if refused.is_empty() {
        "an argument or a GROUNDWORK_* environment variable is not valid UTF-8; text must be \
         UTF-8"
            .to_owned()
    } else {
        format!(
            "{} {} not valid UTF-8; text must be UTF-8",
            refused.join(" and "),
            if refused.len() == 1 { "is" } else { "are" }
        )
    }
}
