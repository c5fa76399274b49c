//! `groundwork`: the terminal client over groundwork-core, for group leads, scripts and tests.
//!
//! Contract: `groundwork --data DIR <command> [--json]`. With `--json`, every command prints one
//! JSON value on stdout; errors go to stderr and the exit code is non-zero (1 for a refused or
//! failed command, 2 for a malformed command line).

mod commands;
mod local;
mod render;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use groundwork_core::identity::Role;
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Office, Position,
    Visibility,
};

/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

/// The commands as `--help` lists them: by who uses them. Every command is in one group (a
/// test checks it), in the order given here.
const HELP_GROUPS: &[(&str, &[&str])] = &[
    (
        "Everyone",
        &[
            "init",
            "join",
            "sync",
            "status",
            "whoami",
            "contact",
            "scorecard",
            "board",
            "rules",
            "places",
        ],
    ),
    (
        "Leads and members: the group's plan",
        &["group", "target", "meeting", "action", "response"],
    ),
    ("Leads", &["invite", "member", "signup"]),
    ("Campaign staff", &["campaign", "dashboard"]),
    (
        "Maintenance",
        &["relay", "store", "token", "completions", "man", "help"],
    ),
];

/// Groundwork: plans, rule-by-rule answers and canvass contacts for Freedom Cities groups,
/// offline first.
#[derive(Parser, Debug)]
#[command(name = "groundwork", version, propagate_version = true)]
struct Cli {
    /// The data directory holding this device's store [default: the platform's data directory]
    #[arg(
        long,
        global = true,
        env = "GROUNDWORK_DATA",
        value_name = "DIR",
        help_heading = GLOBAL
    )]
    data: Option<PathBuf>,
    /// Print one JSON value on stdout instead of text.
    #[arg(long, global = true, help_heading = GLOBAL)]
    json: bool,
    /// The store's key file (64 hex digits, mode 0600) [default: DIR/store.key, made by init].
    /// GROUNDWORK_STORE_KEY (64 hex digits) takes precedence.
    #[arg(
        long,
        global = true,
        env = "GROUNDWORK_KEY_FILE",
        value_name = "FILE",
        help_heading = GLOBAL
    )]
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
    Whoami {
        /// Print the id alone, e.g. for `groundwork-relay staff add "$(groundwork whoami --id)"`.
        #[arg(long)]
        id: bool,
    },
    /// Create and list groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Invite devices into a group.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Join a group with an invite link or code: the relay it names checks it, and the group
    /// arrives at once.
    Join {
        /// The invite link (https://RELAY/join#CODE, or groundwork://join?invite=CODE) or code.
        code: String,
        /// The relay's WebSocket URL [default: the one the invite names, else the remembered one]
        #[arg(long, env = "GROUNDWORK_RELAY")]
        relay: Option<String>,
    },
    /// A group's members; remove one.
    #[command(subcommand)]
    Member(MemberCommand),
    /// For developers: a short-lived token for a plain automerge-repo client.
    ///
    /// The token lets the client act as this device in one group: pass it as `?token=` in the
    /// relay URL.
    Token {
        /// The group: its name or id (or the start of either).
        group: String,
        #[command(flatten)]
        relay: RelayArg,
        /// Lifetime in seconds (at most an hour).
        #[arg(long, default_value_t = 600)]
        ttl: u64,
    },
    /// Present the relay operator's sign-up code, so this device may create groups there.
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
    /// Where each official stands, rule by rule: existing policy, position, conditions.
    Scorecard {
        /// The group: its name or id (or the start of either).
        group: String,
        /// Only this official: their name or id (or the start of either).
        #[arg(long)]
        target: Option<String>,
    },
    /// Canvass contacts.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// The model rules: codes, titles, summaries.
    Rules,
    /// Every sharing group's officials and answers, rule by rule.
    ///
    /// For campaign staff, a role the relay's operator grants.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// County boards: who asks which officials in a county, their meetings and answers.
    ///
    /// A board holds every sharing group's officials, meetings and latest answers in a county
    /// where a group of this device shares an official, or one it follows (synced; read
    /// offline).
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
    /// Sync with the relay: once, or staying connected until stopped.
    ///
    /// With --once it shows progress on stderr (not with --json) and exits. Without, it stays
    /// connected until Ctrl-C, printing a line for each event (one JSON value a line with
    /// --json).
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
    /// Print a shell completion script.
    ///
    /// For bash: `mkdir -p ~/.local/share/bash-completion/completions && groundwork completions
    /// bash > ~/.local/share/bash-completion/completions/groundwork`.
    Completions {
        /// bash | zsh | fish | elvish | powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `groundwork man | man -l -`.
    ///
    /// `groundwork man invite create` prints one command's page; `--dir DIR` writes every page
    /// (groundwork.1 and one per command, the pages the main one names) for `man` to find.
    Man {
        /// A command's page instead of the main one, e.g. `invite create`.
        command: Vec<String>,
        /// Write every page into this directory (e.g. ~/.local/share/man/man1).
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
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
        /// The group: its name or id (or the start of either).
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
        /// The group: its name or id (or the start of either).
        group: String,
        /// on | off
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// The time zone of the group's meetings that have no official's county (leads only), as
    /// an IANA name (America/Phoenix), or `default` for its jurisdiction county's. A meeting
    /// with an official keeps its county's zone; `meeting edit --zone` sets one meeting's.
    Zone {
        /// The group: its name or id (or the start of either).
        group: String,
        /// An IANA zone, or `default`.
        zone: String,
    },
}

#[derive(Subcommand, Debug)]
enum InviteCommand {
    /// Sign an invite to a group this device leads (works offline).
    ///
    /// Prints the join link to send to whoever joins (`groundwork join LINK`; with --qr, also a
    /// QR code of it for a phone to scan), then what it admits: the role, how many devices may
    /// use it and until when.
    Create {
        /// The group: its name or id (or the start of either).
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
        /// The group: its name or id (or the start of either).
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
        /// The group: its name or id (or the start of either).
        group: String,
    },
    /// Remove a device from a group (a lead; or anyone, for another device of their own, e.g.
    /// a lost phone). The relay stops serving it at once and tells it to wipe the group when it
    /// next connects.
    Remove {
        /// The group: its name or id (or the start of either).
        group: String,
        /// The device to remove: its name on the roster or its id (or the start of either).
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
        /// The group: its name or id (or the start of either).
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
        /// The group: its name or id (or the start of either).
        group: String,
    },
}

#[derive(Subcommand, Debug)]
enum MeetingCommand {
    /// Create a meeting (status: draft).
    Create {
        /// The group: its name or id (or the start of either).
        group: String,
        /// organizing | official
        #[arg(long)]
        kind: MeetingKind,
        /// A short title.
        #[arg(long)]
        title: String,
        /// The official to meet, by name or id (required for official meetings).
        #[arg(long)]
        target: Option<String>,
        /// When: a local time in the meeting's zone, 2026-12-15T18:30 (or "2026-12-15 18:30"),
        /// or a time with its offset, 2026-12-15T18:30:00-08:00
        #[arg(long)]
        at: Option<String>,
        /// The meeting's IANA time zone, e.g. America/Phoenix [default: the official's
        /// county's, else the group's, else UTC]
        #[arg(long)]
        zone: Option<String>,
        /// Where.
        #[arg(long)]
        location: Option<String>,
    },
    /// Change when a meeting is, or its time zone. A time without an offset is local to the
    /// meeting's zone (the new one, with --zone); --zone alone keeps the clock time (18:30
    /// stays 18:30, now in the new zone).
    Edit {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// When: 2026-12-15T18:30 in the meeting's zone, or 2026-12-15T18:30:00-08:00
        #[arg(long, required_unless_present = "zone")]
        at: Option<String>,
        /// The meeting's IANA time zone, e.g. America/Phoenix
        #[arg(long)]
        zone: Option<String>,
    },
    /// Add an item to a meeting's agenda.
    Agenda {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// The item to add.
        #[arg(long)]
        add: String,
    },
    /// Add to a meeting's shared notes.
    Notes {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// The text to append.
        #[arg(long)]
        append: String,
    },
    /// Set a meeting's status.
    Status {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// draft | requested | scheduled | held | declined | no-response | cancelled
        status: MeetingStatus,
    },
    /// Choose who beyond the group sees a meeting (leads only): private (the campaign sees an
    /// official meeting's status and time), shared (its place too), public (the public map).
    Share {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// private | shared | public
        visibility: Visibility,
    },
    /// Show a meeting to the group's canvassers, or stop (leads only). Canvassers' devices
    /// hold no plan: they see the group's name, its leads, its officials, and the meetings
    /// shown to them (shared and public ones too), with title, time, place and status only.
    Canvassers {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
        /// show | hide
        #[arg(value_parser = ["show", "hide"])]
        setting: String,
    },
    /// Mark a meeting as the same as another group's on the county's board, when the office
    /// combined the requests (leads only); the board then shows one meeting with both groups.
    JoinBoard {
        /// The meeting in this group: its title or id (or the start of either).
        meeting: String,
        /// The board's meeting, GROUP/MEETING (`board show --json` lists them); `none` undoes.
        board_meeting: String,
    },
    /// Show a meeting in full.
    Show {
        /// The meeting: its title or id (or the start of either).
        meeting: String,
    },
    /// List a group's meetings.
    List {
        /// The group: its name or id (or the start of either).
        group: String,
    },
}

#[derive(Subcommand, Debug)]
enum ActionCommand {
    /// Add an action item.
    Add {
        /// The group: its name or id (or the start of either).
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
        /// The action item: its title or id (or the start of either).
        #[arg(value_name = "ACTION")]
        id: String,
    },
    /// List a group's action items.
    List {
        /// The group: its name or id (or the start of either).
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
    /// The group: its name or id (or the start of either).
    group: String,
    /// The official who answered: their name or id (or the start of either).
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
    /// The meeting where they answered: its title or id.
    #[arg(long)]
    meeting: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ContactCommand {
    /// Log a contact. Saved when the command returns.
    Log(LogContact),
    /// List a group's contacts, newest first, a page at a time.
    List {
        /// The group: its name or id (or the start of either).
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
        /// The group: its name or id (or the start of either).
        group: String,
        /// The file to write.
        #[arg(long)]
        csv: PathBuf,
    },
}

#[derive(Args, Debug)]
struct LogContact {
    /// The group: its name or id (or the start of either).
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

/// The command line's definition, with the top-level help listing commands by who uses them
/// ([`HELP_GROUPS`]); clap itself lists subcommands under one heading only.
fn command() -> clap::Command {
    let cmd = <Cli as CommandFactory>::command();
    let listing = command_listing(&cmd);
    cmd.help_template(format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{listing}{GLOBAL}:\n{{options}}\n\n\
         `groundwork COMMAND --help` shows a command's own options. Where a command takes a \
         group, meeting,\nofficial or member, its name will do, or the start of it (or of its \
         id).\n"
    ))
}

/// The commands under the headings of [`HELP_GROUPS`], each with its one-line description,
/// wrapped to 100 columns.
fn command_listing(cmd: &clap::Command) -> String {
    const WIDTH: usize = 100;
    let mut built = cmd.clone();
    built.build();
    let name_width = built
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (heading, names) in HELP_GROUPS {
        out.push_str(heading);
        out.push_str(":\n");
        for name in *names {
            let Some(sub) = built.find_subcommand(name) else {
                continue;
            };
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let mut line = format!("  {name:<name_width$}  ");
            let indent = line.len();
            let mut column = indent;
            for word in about.split_whitespace() {
                if column > indent && column + 1 + word.len() > WIDTH {
                    line.push('\n');
                    line.push_str(&" ".repeat(indent));
                    column = indent;
                } else if column > indent {
                    line.push(' ');
                    column += 1;
                }
                line.push_str(word);
                column += word.len();
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `groundwork man`: the main page, one command's (`man invite create`), or, with `--dir`,
/// every page written to a directory, so that the pages the main one names exist.
fn man(words: &[String], dir: Option<&std::path::Path>) -> Result<String, String> {
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        clap_mangen::generate_to(cmd, dir)
            .map_err(|e| format!("writing the manual pages to {}: {e}", dir.display()))?;
        return Ok(format!(
            "wrote the manual pages to {}: `man groundwork` once that directory's parent is on \
             MANPATH\n",
            dir.display()
        ));
    }
    let mut page = &cmd;
    for word in words {
        page = page.find_subcommand(word).ok_or_else(|| {
            format!(
                "no command `{} {word}`: `groundwork --help` lists them",
                page.get_display_name().unwrap_or(page.get_name())
            )
        })?;
    }
    let mut roff = Vec::new();
    clap_mangen::Man::new(page.clone())
        .render(&mut roff)
        .map_err(|e| format!("writing the manual page: {e}"))?;
    String::from_utf8(roff).map_err(|e| format!("writing the manual page: {e}"))
}

fn main() -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map_err(|e| e.format(&mut command())));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            eprintln!("groundwork: {}", invalid_utf8());
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut command(), "groundwork", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if let Command::Man { command, dir } = &cli.command {
        return match man(command, dir.as_deref()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("groundwork: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command is listed under one heading of `--help`, once; every name listed is one.
    #[test]
    fn every_command_has_one_heading() {
        let mut cmd = command();
        cmd.build();
        let listed: Vec<&str> = HELP_GROUPS
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        for sub in cmd.get_subcommands() {
            let n = listed.iter().filter(|&&l| l == sub.get_name()).count();
            assert_eq!(n, 1, "{} is listed {n} times", sub.get_name());
        }
        for name in listed {
            assert!(cmd.find_subcommand(name).is_some(), "no command {name}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
