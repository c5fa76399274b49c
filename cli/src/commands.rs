//! Runs one parsed command against the device store and shapes its output.

use std::path::PathBuf;

use anyhow::{Context, Result};
use groundwork_core::Device;
use groundwork_core::identity::{Invite, invite_link, join_link};
use groundwork_core::rules::RULES;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{NewAction, NewMeeting, NewResponse, NewTarget};
use groundwork_core::schema::vocab::Visibility;
use groundwork_core::store::StoreKey;
use groundwork_core::store::index::ContactQuery;
use groundwork_core::sync::control::{Answer, Request};
use groundwork_core::time::format_rfc3339;
use groundwork_core::time::parse_rfc3339;
use serde_json::json;

use crate::render::{self, count};
use crate::{
    ActionCommand, BoardCommand, CampaignCommand, Cli, Command, ContactCommand, DashboardCommand,
    GroupCommand, InviteCommand, LogContact, MeetingCommand, MemberCommand, PlacesCommand,
    RelayArg, RelayCommand, ResponseCommand, StoreCommand, TargetCommand,
};

/// What a command prints: one JSON value for `--json`, text otherwise; nothing more for a
/// command that streamed its output as it went.
pub struct Output {
    pub json: serde_json::Value,
    pub text: String,
    pub streamed: bool,
}

impl Output {
    fn new(json: serde_json::Value, text: impl Into<String>) -> Self {
        Self {
            json,
            text: text.into(),
            streamed: false,
        }
    }

    fn streamed() -> Self {
        Self {
            json: serde_json::Value::Null,
            text: String::new(),
            streamed: true,
        }
    }
}

fn data_dir(cli_data: Option<PathBuf>) -> Result<PathBuf> {
    match cli_data {
        Some(dir) => Ok(dir),
        None => dirs::data_dir()
            .map(|d| d.join("groundwork"))
            .context("this platform has no data directory; pass --data DIR"),
    }
}

/// Where the store key comes from: `GROUNDWORK_STORE_KEY` (64 hex digits) if set, else a key
/// file only its owner can read (`--key-file`, default `DIR/store.key`), made by `init`.
fn store_key(dir: &std::path::Path, key_file: Option<PathBuf>, create: bool) -> Result<StoreKey> {
    if let Ok(hex) = std::env::var("GROUNDWORK_STORE_KEY") {
        return StoreKey::from_hex(&hex).context("GROUNDWORK_STORE_KEY");
    }
    let path = key_file.unwrap_or_else(|| dir.join("store.key"));
    if create && !path.exists() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        return Ok(StoreKey::create_file(&path)?);
    }
    Ok(StoreKey::read_file(&path)?)
}

pub fn run(cli: Cli) -> Result<Output> {
    let json = cli.json;
    let dir = data_dir(cli.data)?;
    // Before a key file is made in it or looked for: a file in the way is named as such.
    groundwork_core::store::check_data_dir(&dir)?;
    if let Command::Init { name } = &cli.command {
        let path = dir.join(groundwork_core::store::STORE_FILE);
        if path.exists() {
            // Said before any key file is touched.
            return Err(groundwork_core::Error::AlreadyInitialized { path }.into());
        }
        let key = store_key(&dir, cli.key_file.clone(), true)?;
        let device = Device::init(&dir, name, &key)?;
        let info = device.info();
        return Ok(Output::new(
            json!(info),
            format!(
                "initialised device {} ({})\n",
                info.device_id,
                render::clean_line(&info.name)
            ),
        ));
    }
    if let Command::Rules = &cli.command {
        return Ok(Output::new(json!(RULES), render::rules()));
    }
    if let Command::Places(PlacesCommand::Search { text, limit }) = &cli.command {
        let found = groundwork_core::places::search(text, *limit);
        if found.is_empty() {
            anyhow::bail!("no county matches {text:?}");
        }
        return Ok(Output::new(json!(found), render::counties(&found)));
    }
    let key = if dir.join(groundwork_core::store::STORE_FILE).exists() {
        store_key(&dir, cli.key_file.clone(), false)?
    } else {
        // Device::open names the missing store.
        StoreKey::from_bytes([0; 32])
    };
    let mut device = Device::open(&dir, &key)?;
    let mut command = cli.command;
    resolve_names(&device, &mut command)?;
    let out = match command {
        Command::Init { .. }
        | Command::Rules
        | Command::Places(_)
        | Command::Completions { .. }
        | Command::Man { .. } => {
            unreachable!("handled before the store is opened")
        }
        Command::Whoami { id } => {
            let info = device.info();
            let text = if id {
                format!("{}\n", info.device_id)
            } else {
                format!("{} ({})\n", info.device_id, render::clean_line(&info.name))
            };
            Output::new(json!(info), text)
        }
        Command::Group(GroupCommand::Create { name, jurisdiction }) => {
            let group_id = device.create_group(&name, jurisdiction)?;
            let name = device.group(&group_id)?.name;
            Output::new(
                json!({ "group_id": group_id, "name": name }),
                format!("created {} ({group_id})\n", render::clean_line(&name)),
            )
        }
        Command::Invite(InviteCommand::Create {
            group,
            role,
            uses,
            expires,
            link,
        }) => {
            let valid_for = parse_duration_ms(&expires)?;
            let (invite, code) =
                device.create_invite(&group, role, uses, valid_for, link.relay.as_deref())?;
            invite_output(&device, &invite, &code, link.qr, json)?
        }
        Command::Invite(InviteCommand::OwnDevice {
            group,
            expires,
            link,
        }) => {
            let valid_for = parse_duration_ms(&expires)?;
            let (invite, code) =
                device.create_own_device_invite(&group, valid_for, link.relay.as_deref())?;
            invite_output(&device, &invite, &code, link.qr, json)?
        }
        Command::Join { code, relay } => {
            // Checked here first: a forged or altered link (its relay changed, say) is refused
            // before this device connects anywhere.
            let join = device.begin_join(&code, relay.as_deref())?;
            let name = device.info().name.clone();
            let answer = runtime()?.block_on(groundwork_core::net::request(
                &mut device,
                &join.relay,
                join.request(&name),
                std::time::Duration::from_secs(30),
            ));
            let groundwork_core::Joined {
                group_id: group,
                role,
                checked_by,
                relay,
            } = join.finish(&mut device, answer)?;
            // Receive the group at once; a failure here leaves the membership for the next sync.
            let synced = runtime()?
                .block_on(groundwork_core::net::sync_once(
                    &mut device,
                    &relay,
                    std::time::Duration::from_secs(30),
                ))
                .map(|s| s.synced)
                .unwrap_or(false);
            // The group's name arrives with its plan (or, for a canvasser, its brief): known
            // after the sync above, unless that failed.
            let name = device
                .group(&group)
                .map(|g| g.name)
                .ok()
                .filter(|n| !n.is_empty());
            Output::new(
                json!({
                    "group_id": group,
                    "name": name,
                    "role": role,
                    "synced": synced,
                    "checked_by": checked_by,
                    "relay": relay,
                }),
                format!(
                    "joined {} as {role}\n",
                    render::clean_line(name.as_deref().unwrap_or(&group))
                ),
            )
        }
        Command::Member(MemberCommand::List { group }) => {
            let members = device.members(&group)?;
            let rows: Vec<_> = members
                .iter()
                .map(|(id, m)| {
                    json!({
                        "device_id": id,
                        "name": m.name,
                        "role": m.role,
                        "joined_at": m.joined_at,
                        "removed_at": m.removed_at,
                    })
                })
                .collect();
            let text = render::members(&members);
            Output::new(json!(rows), text)
        }
        Command::Member(MemberCommand::Remove {
            group,
            device: target,
            relay,
        }) => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            let group = remote_group(&device, &group)?;
            let target = remote_member(&mut device, &group, &target)?;
            let who = device
                .members(&group)
                .ok()
                .and_then(|m| m.into_iter().find(|(id, _)| *id == target))
                .map(|(_, m)| m.name)
                .filter(|n| !n.is_empty())
                .map_or_else(
                    || target.clone(),
                    |n| format!("{} ({target})", render::clean_line(&n)),
                );
            control(
                &mut device,
                &relay,
                Request::RemoveMember {
                    group: group.clone(),
                    device: target.clone(),
                },
            )?;
            Output::new(
                json!({ "removed": target, "group_id": group }),
                format!("removed {who}\n"),
            )
        }
        Command::Token { group, relay, ttl } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            let group = remote_group(&device, &group)?;
            let answer = control(
                &mut device,
                &relay,
                Request::MintToken {
                    group,
                    ttl_secs: ttl,
                },
            )?;
            let Answer::Token { token, expires_at } = answer else {
                anyhow::bail!("the relay answered the token request unexpectedly");
            };
            Output::new(
                json!({ "token": token, "expires_at": expires_at }),
                format!("{}\n", render::clean_line(&token)),
            )
        }
        Command::Signup { code, relay } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            control(&mut device, &relay, Request::SignUp { code })?;
            Output::new(json!({ "signed_up": true }), "signed up\n")
        }
        Command::Sync {
            relay,
            once,
            timeout,
        } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            return sync(device, &relay, once, timeout, json);
        }
        Command::Relay(RelayCommand::Show) => {
            let relay = device.relay()?;
            let aliases = device.relay_aliases()?;
            let mut text = match &relay {
                Some(r) => format!("{}\n", render::clean_line(r)),
                None => "no relay yet: a join or a sync with --relay sets it\n".to_owned(),
            };
            if !aliases.is_empty() {
                text.push_str(&format!(
                    "also answers at: {}\n",
                    render::clean_line(&aliases.join(", "))
                ));
            }
            Output::new(json!({ "relay": relay, "aliases": aliases }), text)
        }
        Command::Relay(RelayCommand::Move { url, yes, timeout }) => {
            return move_relay(device, &url, yes, timeout);
        }
        Command::Status => {
            let docs = device.sync_status()?;
            let connection = device.connection()?;
            let synced = docs.iter().filter(|d| d.synced).count();
            let text = render::status(connection.as_ref(), &docs);
            Output::new(
                json!({
                    "connection": connection,
                    "documents": docs,
                    "synced": synced,
                    "total": docs.len(),
                }),
                text,
            )
        }
        Command::Campaign(c) => campaign(&mut device, c)?,
        Command::Dashboard(DashboardCommand::Login { relay }) => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            let Answer::DashboardLink { code, expires_at } =
                control(&mut device, &relay, Request::DashboardLink)?
            else {
                anyhow::bail!("the relay answered the sign-in request unexpectedly");
            };
            let link = format!("{}/campaign/login?code={code}", web_origin(&relay)?);
            Output::new(
                json!({ "link": link, "expires_at": format_rfc3339(expires_at) }),
                format!(
                    "{}\nopen it in your browser; it works once, until {}\n",
                    render::clean_line(&link),
                    crate::local::when(expires_at, &crate::local::zone())
                ),
            )
        }
        Command::Board(BoardCommand::List) => {
            let boards = device.boards()?;
            let followed = device.followed_counties()?;
            let mut rows: Vec<_> = boards
                .iter()
                .map(|b| {
                    json!({
                        "county": b.board_of,
                        "county_name": b.county_name,
                        "officials": b.officials.len(),
                        "groups": b.groups().len(),
                        "followed": followed.contains(&b.board_of),
                    })
                })
                .collect();
            let mut text = String::new();
            for b in &boards {
                text.push_str(&format!(
                    "{}  {}  {}, {}{}\n",
                    render::clean_line(&b.board_of),
                    render::clean_line(&b.county_name),
                    count(b.officials.len(), "official"),
                    count(b.groups().len(), "group"),
                    if followed.contains(&b.board_of) {
                        "  (followed)"
                    } else {
                        ""
                    }
                ));
            }
            // A county followed before any sharing group asks an official there has no
            // board yet; say so rather than leave it out.
            for county in followed
                .iter()
                .filter(|c| !boards.iter().any(|b| b.board_of == **c))
            {
                let place = groundwork_core::places::county(county)?;
                text.push_str(&format!(
                    "{county}  {place}  followed; no board yet (no sharing group asks an \
                     official there, or not synced since)\n"
                ));
                rows.push(json!({
                    "county": county,
                    "county_name": place.to_string(),
                    "officials": 0,
                    "groups": 0,
                    "followed": true,
                }));
            }
            if boards.is_empty() && followed.is_empty() {
                text.push_str(
                    "no boards yet: sync, with a target named by county, or `board follow FIPS`\n",
                );
            }
            Output::new(json!(rows), text)
        }
        Command::Board(BoardCommand::Follow { county, relay }) => {
            follow_board(&mut device, &county, &relay, true)?
        }
        Command::Board(BoardCommand::Unfollow { county, relay }) => {
            follow_board(&mut device, &county, &relay, false)?
        }
        Command::Board(BoardCommand::Show { county }) => {
            let board = device.board(&county)?;
            Output::new(render::board_json(&board), render::board(&board))
        }
        Command::Group(GroupCommand::Share { group, setting }) => {
            let on = setting == "on";
            device.set_group_sharing(&group, on)?;
            let name = group_name(&device, &group);
            Output::new(
                json!({ "group_id": group, "shares": on }),
                if on {
                    format!("{name} shares with the campaign\n")
                } else {
                    format!("{name} no longer shares with the campaign\n")
                },
            )
        }
        Command::Group(GroupCommand::Zone { group, zone }) => {
            let zone = (zone != "default").then_some(zone);
            device.set_group_zone(&group, zone.as_deref())?;
            let name = group_name(&device, &group);
            let now = device.plan(&group)?.group_zone().map(str::to_owned);
            Output::new(
                json!({ "group_id": group, "zone": now }),
                match &now {
                    Some(z) => format!("{name}'s meetings without a county are in {z}\n"),
                    None => format!("{name}'s meetings without a county are shown in UTC\n"),
                },
            )
        }
        Command::Group(GroupCommand::Retention {
            group,
            months,
            export,
        }) => {
            let months = match months.as_str() {
                "off" => None,
                m => Some(
                    m.parse::<u64>()
                        .map_err(|_| groundwork_core::Error::Invalid {
                            what: "retention",
                            reason: format!("{m:?} is not a number of months (or `off`)"),
                        })?,
                ),
            };
            let exported = device.set_retention(&group, months, export.as_deref())?;
            let name = group_name(&device, &group);
            Output::new(
                json!({ "group_id": group, "retention_months": months, "exported": exported }),
                match months {
                    Some(m) => format!(
                        "{name} keeps {} of contacts ({} exported)\n",
                        count(m as usize, "month"),
                        count(exported, "contact")
                    ),
                    None => format!("{name} keeps every contact\n"),
                },
            )
        }
        Command::Group(GroupCommand::List) => {
            let groups = device.groups()?;
            let text = render::groups(&groups);
            Output::new(json!(groups), text)
        }
        Command::Target(TargetCommand::Add {
            group,
            name,
            title,
            agency,
            jurisdiction,
            level,
            county,
            office,
            place,
        }) => {
            let new = NewTarget {
                name: name.unwrap_or_default(),
                title: title.unwrap_or_default(),
                agency,
                jurisdiction,
                level,
                county,
                office,
                place,
            };
            let target_id = device.add_target(&group, new)?;
            let official = device
                .targets(&group)?
                .into_iter()
                .find(|t| t.target_id == target_id)
                .map_or_else(String::new, |t| render::official_name(&t.name, &t.title));
            Output::new(
                json!({ "target_id": target_id }),
                format!("added {official} ({target_id})\n"),
            )
        }
        Command::Target(TargetCommand::List { group }) => {
            let rows = device.targets(&group)?;
            let text = render::targets(&rows);
            Output::new(json!(rows), text)
        }
        Command::Meeting(MeetingCommand::Create {
            group,
            kind,
            title,
            target,
            at,
            zone,
            location,
        }) => {
            // A time without an offset is read in the zone the meeting will have.
            let new = NewMeeting {
                kind,
                title,
                target,
                at: None,
                location,
            };
            let meeting_id =
                device.create_meeting_local(&group, new, at.as_deref(), zone.as_deref())?;
            Output::new(
                json!({ "meeting_id": meeting_id }),
                format!("{meeting_id}\n"),
            )
        }
        Command::Meeting(MeetingCommand::Edit { meeting, at, zone }) => {
            let m = device.set_meeting_time(&meeting, at.as_deref(), zone.as_deref())?;
            Output::new(
                render::meeting_json(&m),
                format!("{meeting}: {}\n", render::when(m.at, m.zone.as_deref())),
            )
        }
        Command::Meeting(MeetingCommand::Agenda { meeting, add }) => {
            let item_id = device.add_agenda_item(&meeting, &add)?;
            Output::new(
                json!({ "meeting_id": meeting, "item_id": item_id }),
                format!("{item_id}\n"),
            )
        }
        Command::Meeting(MeetingCommand::Notes { meeting, append }) => {
            device.append_notes(&meeting, &append)?;
            Output::new(json!({ "meeting_id": meeting }), "notes saved\n")
        }
        Command::Meeting(MeetingCommand::Status { meeting, status }) => {
            device.set_meeting_status(&meeting, status)?;
            Output::new(
                json!({ "meeting_id": meeting, "status": status }),
                format!("{}: {status}\n", meeting_title(&device, &meeting)),
            )
        }
        Command::Meeting(MeetingCommand::Share {
            meeting,
            visibility,
        }) => {
            device.set_meeting_visibility(&meeting, visibility)?;
            let m = device.meeting(&meeting)?;
            let mut text = format!("{}: {visibility}\n", render::clean_line(&m.title));
            let mut on_map = false;
            if visibility == Visibility::Public {
                let missing = off_the_public_map(&device, &meeting, &m)?;
                on_map = missing.is_empty();
                if !on_map {
                    text.push_str(&format!(
                        "not on the public map yet: {}\n",
                        missing.join("; ")
                    ));
                }
            }
            Output::new(
                json!({
                    "meeting_id": meeting,
                    "visibility": visibility,
                    "on_public_map": on_map,
                }),
                text,
            )
        }
        Command::Meeting(MeetingCommand::Canvassers { meeting, setting }) => {
            let shown = setting == "show";
            device.set_meeting_canvassers(&meeting, shown)?;
            Output::new(
                json!({ "meeting_id": meeting, "canvassers": shown }),
                format!(
                    "{}: {} canvassers\n",
                    meeting_title(&device, &meeting),
                    if shown { "shown to" } else { "hidden from" }
                ),
            )
        }
        Command::Meeting(MeetingCommand::JoinBoard {
            meeting,
            board_meeting,
        }) => {
            let joins = (board_meeting != "none").then_some(board_meeting.as_str());
            device.join_board_meeting(&meeting, joins)?;
            let title = meeting_title(&device, &meeting);
            Output::new(
                json!({ "meeting_id": meeting, "joins": joins }),
                match joins {
                    Some(other) => format!(
                        "{title} is the same meeting as {}\n",
                        render::clean_line(other)
                    ),
                    None => format!("{title} is its own meeting again\n"),
                },
            )
        }
        Command::Meeting(MeetingCommand::Show { meeting }) => {
            let m = device.meeting(&meeting)?;
            let with = match &m.target {
                Some(target) => {
                    let group = device.group_of_meeting(&meeting)?;
                    device
                        .targets(&group)?
                        .into_iter()
                        .find(|t| &t.target_id == target)
                }
                None => None,
            };
            Output::new(render::meeting_json(&m), render::meeting(&m, with.as_ref()))
        }
        Command::Meeting(MeetingCommand::List { group }) => {
            let rows = device.meetings(&group)?;
            let text = render::meetings(&rows);
            Output::new(render::meetings_json(&rows), text)
        }
        Command::Action(ActionCommand::Add {
            group,
            title,
            assignee,
            due,
        }) => {
            let new = NewAction {
                title,
                assignee,
                due,
            };
            let action_id = device.add_action(&group, new)?;
            Output::new(json!({ "action_id": action_id }), format!("{action_id}\n"))
        }
        Command::Action(ActionCommand::Done { id }) => {
            device.set_action_done(&id, true)?;
            Output::new(
                json!({ "action_id": id, "done": true }),
                format!("{id}: done\n"),
            )
        }
        Command::Action(ActionCommand::List { group }) => {
            let rows = device.actions(&group)?;
            let text = render::actions(&rows);
            Output::new(json!(rows), text)
        }
        Command::Response(ResponseCommand::Record(r)) => {
            let new = NewResponse {
                target: r.target.clone(),
                rule: r.rule,
                existing: r.existing,
                position: r.position,
                conditions: r.conditions,
                legal_basis: r.legal_basis,
                meeting: r.meeting,
            };
            device.record_response(&r.group, new)?;
            let target = device
                .targets(&r.group)?
                .into_iter()
                .find(|t| t.target_id == r.target);
            let official = target.as_ref().map_or_else(
                || render::clean_line(&r.target).to_string(),
                |t| render::official_name(&t.name, &t.title),
            );
            let mut text = format!("{official} {}: {} / {}\n", r.rule, r.existing, r.position);
            // Answers reach the county's board and the campaign only through an official
            // named by county and office, from a group that shares: say when one cannot.
            let by_county = target.as_ref().is_some_and(|t| t.county.is_some());
            let shares = device.group(&r.group)?.shares;
            if !by_county {
                text.push_str(
                    "this official has no county, so the answer stays in the group: no county \
                     board or campaign dashboard shows it (name officials by county and office: \
                     `target add GROUP --county FIPS --office sheriff`)\n",
                );
            } else if !shares {
                text.push_str(
                    "the group does not share with the campaign, so the answer stays in the \
                     group (`group share GROUP on` shares it)\n",
                );
            }
            Output::new(
                json!({
                    "target_id": r.target,
                    "rule": r.rule,
                    "existing": r.existing,
                    "position": r.position,
                    "shared_with_campaign": by_county && shares,
                }),
                text,
            )
        }
        Command::Scorecard { group, target } => {
            let rows = device.scorecard(&group, target.as_deref())?;
            let text = render::scorecard(&rows);
            Output::new(json!(rows), text)
        }
        Command::Contact(ContactCommand::Log(c)) => {
            let new = NewContact {
                result: c.result,
                support: c.support,
                place: c.place,
                interests: c.interests,
                follow_up: c.follow_up,
                note: c.note,
                consent: c.consent,
                name: c.name,
                phone: c.phone,
                email: c.email,
                at: c.at.as_deref().map(parse_rfc3339).transpose()?,
            };
            let contact_id = device.log_contact(&c.group, new).map_err(|e| match e {
                groundwork_core::Error::ConsentRequired => anyhow::anyhow!(
                    "personal details (--name, --phone, --email) are recorded only with the \
                     person's consent: pass --consent once they have agreed, or leave them out"
                ),
                e => e.into(),
            })?;
            Output::new(
                json!({ "contact_id": contact_id }),
                format!("{contact_id}\n"),
            )
        }
        Command::Contact(ContactCommand::List {
            group,
            result,
            limit,
            after,
            all,
        }) => {
            let query = ContactQuery {
                result,
                limit,
                after,
            };
            if all {
                return stream_contacts(&device, &group, query, json);
            }
            let page = device.contact_page(&group, &query)?;
            Output::new(
                render::contact_page_json(&page),
                render::contact_page(&page),
            )
        }
        Command::Contact(ContactCommand::Export { group, csv }) => {
            let n = device.export_contacts_csv(&group, &csv)?;
            Output::new(
                json!({ "exported": n, "file": csv }),
                format!("{} written to {}\n", count(n, "contact"), csv.display()),
            )
        }
        Command::Store(StoreCommand::RebuildIndex) => {
            device.rebuild_index()?;
            Output::new(json!({ "rebuilt": true }), "index rebuilt\n")
        }
        Command::Store(StoreCommand::Compact) => {
            let n = device.compact_all()?;
            Output::new(
                json!({ "compacted": n }),
                format!("{} compacted\n", count(n, "document")),
            )
        }
    };
    Ok(out)
}

/// An invite as `invite create` prints it: the join link (which `join` takes, as it takes the
/// bare code) on the first line, then what it admits (role, uses, expiry), and with `--qr` the
/// link drawn for a phone's camera. With `--json` the QR code goes to stderr, so stdout stays
/// one JSON value.
fn invite_output(
    device: &Device,
    invite: &Invite,
    code: &str,
    qr: bool,
    json: bool,
) -> Result<Output> {
    let link = invite_link(invite, code);
    if invite.relay.is_none() {
        eprintln!(
            "note: this invite names no relay (this device has not reached one yet): the joiner \
             must pass --relay URL; pass --relay here to sign it in"
        );
    }
    let mut text = format!(
        "{link}\nadmits {} as {} to {}, until {}\n",
        count(invite.uses as usize, "device"),
        invite.role,
        group_name(device, &invite.group),
        crate::local::when(invite.expires_at, &crate::local::zone())
    );
    if qr {
        let drawn = render::qr(&link)?;
        if json {
            eprint!("{drawn}");
        } else {
            text.push_str(&drawn);
        }
    }
    Ok(Output::new(
        json!({
            "code": code,
            "link": link,
            "app_link": join_link(code),
            "relay": invite.relay,
            "role": invite.role,
            "uses": invite.uses,
            "expires_at": invite.expires_at,
        }),
        text,
    ))
}

/// Names to ids, in one place: every group, official, meeting and action item a command takes
/// may be given by its name (or the start of its name or id, in any case), and becomes the id
/// it means before the command runs; an id is taken as it always was. The two commands the
/// relay answers for groups this device may not hold (`token`, `member remove`) resolve in
/// their own arms, after naming their relay, with [`remote_group`] and [`remote_member`].
fn resolve_names(device: &Device, command: &mut Command) -> Result<()> {
    match command {
        Command::Group(
            GroupCommand::Retention { group, .. }
            | GroupCommand::Share { group, .. }
            | GroupCommand::Zone { group, .. },
        )
        | Command::Invite(
            InviteCommand::Create { group, .. } | InviteCommand::OwnDevice { group, .. },
        )
        | Command::Member(MemberCommand::List { group })
        | Command::Target(TargetCommand::Add { group, .. } | TargetCommand::List { group })
        | Command::Meeting(MeetingCommand::List { group })
        | Command::Action(ActionCommand::Add { group, .. } | ActionCommand::List { group })
        | Command::Contact(
            ContactCommand::Log(LogContact { group, .. })
            | ContactCommand::List { group, .. }
            | ContactCommand::Export { group, .. },
        ) => *group = device.resolve_group(group)?,
        Command::Meeting(MeetingCommand::Create { group, target, .. })
        | Command::Scorecard { group, target } => {
            *group = device.resolve_group(group)?;
            if let Some(target) = target {
                *target = device.resolve_target(group, target)?;
            }
        }
        Command::Response(ResponseCommand::Record(r)) => {
            r.group = device.resolve_group(&r.group)?;
            r.target = device.resolve_target(&r.group, &r.target)?;
            if let Some(meeting) = &mut r.meeting {
                *meeting = device.resolve_meeting(Some(&r.group), meeting)?;
            }
        }
        Command::Meeting(
            MeetingCommand::Agenda { meeting, .. }
            | MeetingCommand::Notes { meeting, .. }
            | MeetingCommand::Status { meeting, .. }
            | MeetingCommand::Share { meeting, .. }
            | MeetingCommand::Canvassers { meeting, .. }
            | MeetingCommand::JoinBoard { meeting, .. }
            | MeetingCommand::Edit { meeting, .. }
            | MeetingCommand::Show { meeting },
        ) => *meeting = device.resolve_meeting(None, meeting)?,
        Command::Action(ActionCommand::Done { id }) => *id = device.resolve_action(None, id)?,
        _ => {}
    }
    Ok(())
}

/// A group for a request the relay answers, resolved as everywhere; an id this device does not
/// hold goes to the relay as it is, which decides, as it always did.
fn remote_group(device: &Device, text: &str) -> Result<String> {
    match device.resolve_group(text) {
        Err(groundwork_core::Error::NoMatch { .. })
            if text.parse::<groundwork_core::ids::DocumentId>().is_ok() =>
        {
            Ok(text.to_owned())
        }
        other => Ok(other?),
    }
}

/// A member for `member remove`, by name or id from the group's roster as last synced. A
/// device id the roster here does not list (not synced yet; a canvasser's device knows only
/// the leads) goes to the relay as it is, which decides.
fn remote_member(device: &mut Device, group: &str, text: &str) -> Result<String> {
    if device.group(group).is_err() {
        return Ok(text.to_owned());
    }
    match device.resolve_member(group, text) {
        Err(groundwork_core::Error::NoMatch { .. })
            if groundwork_core::identity::verifying_key(text).is_ok() =>
        {
            Ok(text.to_owned())
        }
        other => Ok(other?),
    }
}

/// A meeting's title for a sentence, or its id if the index has no row for it.
fn meeting_title(device: &Device, meeting: &str) -> String {
    device
        .group_of_meeting(meeting)
        .and_then(|group| device.meetings(&group))
        .ok()
        .and_then(|rows| rows.into_iter().find(|m| m.meeting_id == meeting))
        .map_or_else(
            || render::clean_line(meeting).to_string(),
            |m| render::clean_line(&m.title).to_string(),
        )
}

/// A group's name for a sentence, or its id while the name is not known (joined, not synced).
fn group_name(device: &Device, group: &str) -> String {
    match device.group(group) {
        Ok(g) if !g.name.is_empty() => render::clean_line(&g.name).to_string(),
        _ => render::clean_line(group).to_string(),
    }
}

/// Why a public meeting is not on the relay's public map (yet), each with what would put it
/// there; empty when it is (once synced). The map shows official meetings with a time, with
/// an official named by county, requested, scheduled or held, of groups that share.
fn off_the_public_map(
    device: &Device,
    meeting_id: &str,
    m: &groundwork_core::schema::plan::Meeting,
) -> Result<Vec<String>> {
    use groundwork_core::schema::vocab::{MeetingKind, MeetingStatus};
    let group = device.group_of_meeting(meeting_id)?;
    let mut missing = Vec::new();
    if m.kind == MeetingKind::Organizing {
        missing.push(
            "an organizing meeting is never on it (the map shows meetings with officials)"
                .to_owned(),
        );
    } else {
        let county = m.target.as_deref().and_then(|t| {
            device
                .targets(&group)
                .ok()?
                .into_iter()
                .find(|row| row.target_id == t)?
                .county
        });
        if county.is_none() {
            missing.push(
                "its official has no county, so the map cannot place it (`target add GROUP \
                 --county FIPS --office ...`)"
                    .to_owned(),
            );
        }
    }
    match m.status {
        MeetingStatus::Requested | MeetingStatus::Scheduled | MeetingStatus::Held => {}
        MeetingStatus::Draft => missing.push(
            "it is a draft; it appears on the public map once scheduled (or requested): \
             `meeting status MEETING scheduled`"
                .to_owned(),
        ),
        other => missing.push(format!(
            "it is {other}; the map shows requested, scheduled and held meetings"
        )),
    }
    if m.at.is_none() {
        missing.push("it has no time yet".to_owned());
    }
    if !device.group(&group)?.shares {
        missing
            .push("the group does not share with the campaign (`group share GROUP on`)".to_owned());
    }
    Ok(missing)
}

/// `contact list --all`: every row, a page at a time from the index, written as it is read
/// (one JSON value, `{"items": [...], "next": null, "total": N}`, with `--json`).
fn stream_contacts(
    device: &Device,
    group: &str,
    mut query: ContactQuery,
    json: bool,
) -> Result<Output> {
    use std::io::Write;
    const PAGE: u32 = 500;
    query.limit = PAGE;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut first = true;
    let mut written = 0u64;
    if json {
        write!(out, "{{\"items\":[")?;
    }
    loop {
        let page = device.contact_page(group, &query)?;
        for row in &page.items {
            if json {
                if !first {
                    write!(out, ",")?;
                }
                write!(out, "{}", render::contact_json(row))?;
            } else {
                write!(out, "{}", render::contacts(std::slice::from_ref(row)))?;
            }
            first = false;
            written += 1;
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    if json {
        writeln!(out, "],\"next\":null,\"total\":{written}}}")?;
    } else {
        writeln!(out, "{written} contacts")?;
    }
    out.flush()?;
    Ok(Output::streamed())
}

/// The relay's web address from its sync URL: `wss://host/v1/sync` -> `https://host`.
fn web_origin(relay: &str) -> Result<String> {
    Ok(groundwork_core::relay::web_origin(relay)?)
}

/// `board follow|unfollow FIPS`: asks the relay, and keeps the list it answers with.
fn follow_board(
    device: &mut Device,
    county: &str,
    relay: &RelayArg,
    follow: bool,
) -> Result<Output> {
    // Checked here too, so that a typo is named before anything is dialled.
    let place = groundwork_core::places::county(county)?;
    let relay = device.relay_or(relay.relay.as_deref())?;
    let request = Request::FollowBoard {
        county: county.to_owned(),
        follow,
    };
    let Answer::Following { counties } = control(device, &relay, request)? else {
        anyhow::bail!("the relay answered the follow request unexpectedly");
    };
    device.set_followed_counties(&counties)?;
    let text = if follow {
        format!("following the board of {place} ({county}); `sync` brings it\n")
    } else {
        format!("no longer following the board of {place} ({county})\n")
    };
    Ok(Output::new(
        json!({ "county": county, "following": follow, "followed": counties }),
        text,
    ))
}

/// `campaign ...`: staff requests of the relay.
fn campaign(device: &mut Device, command: CampaignCommand) -> Result<Output> {
    use groundwork_core::campaign::OfficialFilter;
    let officials = |device: &mut Device, relay: &RelayArg, filter: OfficialFilter| {
        let relay = device.relay_or(relay.relay.as_deref())?;
        match control(device, &relay, Request::CampaignOfficials { filter })? {
            Answer::Officials { officials } => Ok(officials),
            _ => anyhow::bail!("the relay answered the campaign request unexpectedly"),
        }
    };
    Ok(match command {
        CampaignCommand::Officials {
            state,
            office,
            position,
            relay,
        } => {
            let filter = OfficialFilter {
                state: state.map(|s| s.trim().to_uppercase()),
                office,
                position,
            };
            let found = officials(device, &relay, filter)?;
            Output::new(json!(found), render::officials(&found))
        }
        CampaignCommand::Official { key, relay } => {
            let relay = device.relay_or(relay.relay.as_deref())?;
            match control(device, &relay, Request::CampaignOfficial { key })? {
                Answer::Official { detail } => {
                    Output::new(json!(detail), render::official(&detail))
                }
                _ => anyhow::bail!("the relay answered the campaign request unexpectedly"),
            }
        }
        CampaignCommand::Export { csv, relay } => {
            let found = officials(device, &relay, OfficialFilter::default())?;
            let rows = render::write_officials_csv(&found, &csv)?;
            Output::new(
                json!({ "exported": rows, "officials": found.len(), "file": csv }),
                format!(
                    "{} ({}) written to {}\n",
                    count(rows, "row"),
                    count(found.len(), "official"),
                    csv.display()
                ),
            )
        }
    })
}

/// `sync`: once, or forever with jittered exponential backoff between failed rounds.
fn sync(mut device: Device, relay: &str, once: bool, timeout: u64, json: bool) -> Result<Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let timeout = std::time::Duration::from_secs(timeout);
    if once {
        let mut progress = render::Progress::new(!json);
        let summary = runtime.block_on(groundwork_core::net::sync_once_reporting(
            &mut device,
            relay,
            timeout,
            &mut |p| progress.show(p),
        ));
        progress.finish();
        let summary = summary?;
        if !summary.synced {
            anyhow::bail!(
                "not everything is synced: {}",
                serde_json::to_string(&summary).unwrap_or_default()
            );
        }
        let mut text = format!(
            "synced {} with {} in {}\n",
            count(summary.documents, "document"),
            render::clean_line(&summary.relay),
            count(summary.round_trips as usize, "round trip")
        );
        for group in &summary.wiped {
            text.push_str(&format!(
                "removed from group {}: its data was deleted from this device\n",
                render::clean_line(group)
            ));
        }
        return Ok(Output::new(json!(summary), text));
    }
    // Stay connected until interrupted: a line per event on stdout (one JSON value a line
    // with --json).
    let mut options = groundwork_core::net::RunOptions::new(relay);
    options.connect_timeout = timeout;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let lines = crate::watch::EventLines::new(&device)?;
    let shared = std::sync::Mutex::new(device);
    let result = runtime.block_on(async {
        let running = groundwork_core::net::run(&shared, options, stop, |event| {
            if json {
                println!("{}", json!(event));
            } else {
                println!("{}", lines.line(event));
            }
        });
        tokio::pin!(running);
        tokio::select! {
            result = &mut running => result,
            () = wait_for_interrupt() => {
                // Let the connection save its sync states and record "offline".
                let _ = stop_tx.send(true);
                running.await
            }
        }
    });
    result?;
    Ok(Output::new(json!({ "stopped": true }), "sync stopped\n"))
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn wait_for_interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `relay move URL [--yes]`: what a move would send, or the move itself (a sync with the new
/// relay, which it remembers once it accepts the connection; nothing moves if it does not).
fn move_relay(mut device: Device, url: &str, yes: bool, timeout: u64) -> Result<Output> {
    groundwork_core::relay::check(url)?;
    let from = device.relay()?;
    // What the new relay would receive: every document this device holds, by group.
    let docs = device.documents()?;
    let mut groups = Vec::new();
    for g in device.groups()? {
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        // Only the group's own documents travel: a relay writes rosters, briefs and boards.
        let own = |d: &&groundwork_core::store::DocRecord| {
            d.group_id.as_deref() == Some(&g.group_id)
                && !matches!(d.kind.as_str(), "roster" | "brief" | "board")
        };
        for d in docs.iter().filter(own) {
            *kinds.entry(d.kind.as_str()).or_default() += 1;
        }
        groups.push(json!({
            "group_id": g.group_id,
            "name": g.name,
            "role": g.role,
            "documents": kinds,
        }));
    }
    let described: Vec<String> = groups
        .iter()
        .map(|g| {
            let kinds = g["documents"]
                .as_object()
                .map(|k| {
                    k.iter()
                        .map(|(kind, n)| format!("{n} {kind}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "  {} ({}): {}",
                render::clean_line(g["name"].as_str().unwrap_or_default()),
                g["role"].as_str().unwrap_or_default(),
                if kinds.is_empty() {
                    "nothing stored yet".to_owned()
                } else {
                    kinds
                }
            )
        })
        .collect();
    if !yes {
        anyhow::bail!(
            "not moved: moving this device to {url} sends it every document this device holds \
             ({} groups{}), and from then on this device syncs only with {url}, not {}.\n{}\n\
             Run again with --yes to move.",
            groups.len(),
            if groups.is_empty() { "" } else { ":" },
            from.as_deref().unwrap_or("(no relay yet)"),
            described.join("\n")
        );
    }
    // What the old relay wrote (rosters, briefs, boards) the new one writes anew.
    device.forget_relay_written()?;
    let summary = runtime()?.block_on(groundwork_core::net::sync_once(
        &mut device,
        url,
        std::time::Duration::from_secs(timeout),
    ))?;
    let moved = device.relay()?.is_some_and(|r| {
        groundwork_core::relay::audience(&r).ok() == groundwork_core::relay::audience(url).ok()
    });
    if !moved {
        anyhow::bail!("not moved: {url} did not accept this device's connection");
    }
    let text = format!(
        "moved to {url} (from {}): sent {} documents{}\n{}\n",
        from.as_deref().unwrap_or("no relay"),
        summary.documents,
        if summary.synced {
            ", all synced"
        } else {
            "; not everything is synced yet: run `groundwork sync`"
        },
        described.join("\n")
    );
    Ok(Output::new(
        json!({
            "moved": true,
            "from": from,
            "to": url,
            "groups": groups,
            "documents": summary.documents,
            "synced": summary.synced,
            "pending": summary.pending,
        }),
        text,
    ))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// One request of the relay.
fn control(device: &mut Device, relay: &str, request: Request) -> Result<Answer> {
    Ok(runtime()?.block_on(groundwork_core::net::request(
        device,
        relay,
        request,
        std::time::Duration::from_secs(30),
    ))?)
}

/// `30s`, `15m`, `24h`, `7d` in milliseconds.
fn parse_duration_ms(text: &str) -> Result<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .with_context(|| format!("invalid duration {text:?}: expected e.g. 30m, 24h, 7d"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => anyhow::bail!("invalid duration {text:?}: the unit must be s, m, h or d"),
    };
    n.checked_mul(unit_ms)
        .with_context(|| format!("invalid duration {text:?}: too long"))
}
