//! Groundwork's core in the browser: what the app's web worker calls, as `ffi/` is to Kotlin and
//! Swift. It has no rules of its own: every edit, query and sync step is core's, over the same
//! store (SQLCipher through `sqlite-wasm-rs`, its file in OPFS through SQLite's `opfs-sahpool`
//! VFS) and the same sans-IO [`Session`] the native dialer drives. The worker owns the
//! `WebSocket`: it hands each frame to [`SyncSession::receive`] and sends what
//! [`SyncSession::step`] returns.
//!
//! Values cross as JSON text in core's own spellings (the CLI's `--json` rows), so the app and
//! the CLI read the same shapes. Built natively the crate is empty: `scripts/build-web` builds
//! it for `wasm32-unknown-unknown`.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use groundwork_core::identity::Role;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{NewAction, NewMeeting, NewResponse};
use groundwork_core::schema::vocab::MeetingKind;
use groundwork_core::store::StoreKey;
use groundwork_core::store::index::ContactQuery;
use groundwork_core::sync::control::{Answer, Control, Request};
use groundwork_core::sync::session::Session;
use groundwork_core::{Device, Error, Join};
use serde::Serialize;
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_rs::vfs::VfsFilesManager;
use sqlite_wasm_vfs::sahpool::{OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil, install};
use wasm_bindgen::prelude::*;

/// Where the store lives: a directory of SQLite's pool in the origin private file system.
const POOL_DIRECTORY: &str = ".groundwork";
/// The device's data directory, as core names it (the pool's files are flat).
const DATA_DIR: &str = "/groundwork";

/// An error as JavaScript sees it: core's message, which names what is wrong.
fn js(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}

thread_local! {
    /// The OPFS pool once installed, for erasing it (a worker runs on one thread).
    static POOL: RefCell<Option<OpfsSAHPoolUtil>> = const { RefCell::new(None) };
}

/// Installs the OPFS pool as SQLite's default file system. Call it once, in a dedicated worker
/// (only workers have synchronous access handles), before [`WebDevice::open`].
#[wasm_bindgen(js_name = openStorage)]
pub async fn open_storage() -> Result<(), JsError> {
    let config = OpfsSAHPoolCfgBuilder::new()
        .directory(POOL_DIRECTORY)
        .build();
    let pool = install::<WasmOsCallback>(&config, true)
        .await
        .map_err(|e| JsError::new(&format!("could not open the app's storage: {e}")))?;
    POOL.with(|p| *p.borrow_mut() = Some(pool));
    Ok(())
}

/// Erases every file of the app's storage: the store and its journal, their slots emptied to
/// nothing but their headers. Call it with the device closed (`WebDevice.free()`), after a
/// removal from the device's last group (the worker also deletes the sealed store key).
/// Returns how many files there were.
#[wasm_bindgen(js_name = eraseStorage)]
pub fn erase_storage() -> Result<usize, JsError> {
    POOL.with(|p| {
        let pool = p.borrow();
        let pool = pool
            .as_ref()
            .ok_or_else(|| JsError::new("the app's storage is not open"))?;
        let files = pool
            .len()
            .map_err(|e| JsError::new(&format!("could not read the app's storage: {e}")))?;
        pool.clear()
            .map_err(|e| JsError::new(&format!("could not erase the app's storage: {e}")))?;
        Ok(files)
    })
}

/// This browser's device: its identity and its store.
#[wasm_bindgen]
pub struct WebDevice {
    device: Device,
}

#[wasm_bindgen]
impl WebDevice {
    /// Opens the device stored in this browser with its 32-byte store key, or creates it (named
    /// `name`) if there is none yet.
    pub fn open(key: &[u8], name: &str) -> Result<WebDevice, JsError> {
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| JsError::new(&format!("a store key is 32 bytes, not {}", key.len())))?;
        let key = StoreKey::from_bytes(key);
        let dir = Path::new(DATA_DIR);
        let device = match Device::open(dir, &key) {
            Err(Error::NotInitialized { .. }) => Device::init(dir, name, &key),
            other => other,
        }
        .map_err(js)?;
        Ok(WebDevice { device })
    }

    /// This device's id (its public key).
    #[wasm_bindgen(js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.device.info().device_id.clone()
    }

    /// Creates a group this device leads, its lead named `lead` in the roster, its meetings'
    /// times in `zone` (the browser's IANA zone; empty: none); returns its id.
    #[wasm_bindgen(js_name = createGroup)]
    pub fn create_group(&mut self, name: &str, lead: &str, zone: &str) -> Result<String, JsError> {
        let id = self.device.create_group_as(name, None, lead).map_err(js)?;
        if !zone.is_empty() {
            self.device.set_group_zone(&id, Some(zone)).map_err(js)?;
        }
        Ok(id)
    }

    /// The groups this device is in, as JSON.
    pub fn groups(&self) -> Result<String, JsError> {
        json(&self.device.groups().map_err(js)?)
    }

    /// Logs a contact (JSON: `{"result": "talked", "support": 4, ...}`, the CLI's names);
    /// returns its id. Saved when this returns.
    #[wasm_bindgen(js_name = logContact)]
    pub fn log_contact(&mut self, group_id: &str, contact: &str) -> Result<String, JsError> {
        let contact: NewContact = serde_json::from_str(contact)
            .map_err(|e| JsError::new(&format!("not a contact: {e}")))?;
        self.device.log_contact(group_id, contact).map_err(js)
    }

    /// A page of the group's contacts this device may read, newest first, as JSON (core's
    /// `ContactPage`: `{"items", "next", "total"}`): `limit` of them (at most 500) after the
    /// contact `after` (empty: from the newest).
    pub fn contacts(&self, group_id: &str, after: &str, limit: u32) -> Result<String, JsError> {
        let query = ContactQuery {
            limit: limit.min(500),
            after: Some(after.to_owned()).filter(|a| !a.is_empty()),
            ..ContactQuery::default()
        };
        json(&self.device.contact_page(group_id, &query).map_err(js)?)
    }

    /// The group's meetings this device may see (a canvasser: those shown to canvassers), as
    /// JSON.
    pub fn meetings(&self, group_id: &str) -> Result<String, JsError> {
        json(&self.device.meetings(group_id).map_err(js)?)
    }

    /// One meeting in full, as JSON: `{"meeting_id", "title", "kind", "at", "zone", "location",
    /// "status", "agenda": [{"item_id", "text"}], "notes"}` (members and leads: canvassers see
    /// meetings in their brief's list only).
    pub fn meeting(&mut self, meeting_id: &str) -> Result<String, JsError> {
        let m = self.device.meeting(meeting_id).map_err(js)?;
        json(&serde_json::json!({
            "meeting_id": m.id,
            "title": m.title,
            "kind": m.kind,
            "at": m.at,
            "zone": m.zone,
            "location": m.location,
            "status": m.status,
            "agenda": m.agenda.iter()
                .map(|i| serde_json::json!({ "item_id": i.id, "text": i.text }))
                .collect::<Vec<_>>(),
            "notes": m.notes.as_str(),
        }))
    }

    /// Creates one of the group's own (organizing) meetings; returns its id. `at` is as a
    /// date-time field gives it (`2026-12-15T18:30`), read in the group's zone; it and
    /// `location` may be empty. `canvassers`: whether the group's canvassers are shown it.
    #[wasm_bindgen(js_name = createMeeting)]
    pub fn create_meeting(
        &mut self,
        group_id: &str,
        title: &str,
        at: &str,
        location: &str,
        canvassers: bool,
    ) -> Result<String, JsError> {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let new = NewMeeting {
            kind: MeetingKind::Organizing,
            title: title.to_owned(),
            target: None,
            at: None,
            location: given(location),
        };
        let id = self
            .device
            .create_meeting_local(group_id, new, given(at).as_deref(), None)
            .map_err(js)?;
        if canvassers {
            self.device.set_meeting_canvassers(&id, true).map_err(js)?;
        }
        Ok(id)
    }

    /// Adds an item to the end of a meeting's agenda; returns its id. Saved when this returns.
    #[wasm_bindgen(js_name = addAgendaItem)]
    pub fn add_agenda_item(&mut self, meeting_id: &str, text: &str) -> Result<String, JsError> {
        self.device.add_agenda_item(meeting_id, text).map_err(js)
    }

    /// Adds a paragraph to the end of a meeting's shared notes, where it merges with what
    /// others write meanwhile. Saved when this returns.
    #[wasm_bindgen(js_name = appendNotes)]
    pub fn append_notes(&mut self, meeting_id: &str, text: &str) -> Result<(), JsError> {
        self.device.append_notes(meeting_id, text).map_err(js)
    }

    /// The group's officials, as JSON (core's `TargetRow`s).
    pub fn targets(&self, group_id: &str) -> Result<String, JsError> {
        json(&self.device.targets(group_id).map_err(js)?)
    }

    /// The scorecard: every target and model rule, with the answer if one was recorded, as
    /// JSON (core's `ScorecardRow`s).
    pub fn scorecard(&self, group_id: &str) -> Result<String, JsError> {
        json(&self.device.scorecard(group_id, None).map_err(js)?)
    }

    /// Records an official's answer on one model rule (members and leads): `position` and
    /// `existing` in core's spellings (`will-support`, `in-place`, ...); `conditions` may be
    /// empty.
    #[wasm_bindgen(js_name = recordResponse)]
    pub fn record_response(
        &mut self,
        group_id: &str,
        target: &str,
        rule: &str,
        position: &str,
        existing: &str,
        conditions: &str,
    ) -> Result<(), JsError> {
        let conditions = Some(conditions.trim().to_owned()).filter(|c| !c.is_empty());
        self.device
            .record_response(
                group_id,
                NewResponse {
                    target: target.to_owned(),
                    rule: rule.parse().map_err(js)?,
                    existing: existing.parse().map_err(js)?,
                    position: position.parse().map_err(js)?,
                    conditions,
                    legal_basis: None,
                    meeting: None,
                },
            )
            .map_err(js)
    }

    /// The model rules, in order, with their titles and plain-language summaries, as JSON.
    pub fn rules() -> Result<String, JsError> {
        json(groundwork_core::rules::RULES)
    }

    /// The group's action items, as JSON (core's `ActionRow`s).
    pub fn actions(&self, group_id: &str) -> Result<String, JsError> {
        json(&self.device.actions(group_id).map_err(js)?)
    }

    /// Adds an action item; returns its id. `assignee` and `due` (YYYY-MM-DD) may be empty.
    #[wasm_bindgen(js_name = addAction)]
    pub fn add_action(
        &mut self,
        group_id: &str,
        title: &str,
        assignee: &str,
        due: &str,
    ) -> Result<String, JsError> {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        self.device
            .add_action(
                group_id,
                NewAction {
                    title: title.to_owned(),
                    assignee: given(assignee),
                    due: given(due),
                },
            )
            .map_err(js)
    }

    /// Marks an action item done or not done.
    #[wasm_bindgen(js_name = setActionDone)]
    pub fn set_action_done(&mut self, action_id: &str, done: bool) -> Result<(), JsError> {
        self.device.set_action_done(action_id, done).map_err(js)
    }

    /// The group's devices as its roster has them, as JSON: `[{"device_id", "name", "role",
    /// "joined_at", "removed_at"}]`, this device's own marked `"this_device": true`.
    pub fn members(&mut self, group_id: &str) -> Result<String, JsError> {
        let me = self.device.info().device_id.clone();
        let members = self.device.members(group_id).map_err(js)?;
        let rows: Vec<_> = members
            .into_iter()
            .map(|(id, m)| {
                serde_json::json!({
                    "this_device": id == me,
                    "device_id": id,
                    "name": m.name,
                    "role": m.role,
                    "joined_at": m.joined_at,
                    "removed_at": m.removed_at,
                })
            })
            .collect();
        json(&rows)
    }

    /// Signs an invite to a group this device leads, redeemed at `relay`, as JSON: `{"link",
    /// "role", "uses", "expires_at", "qr": {"width", "dark"}}`; `dark` has one `1` or `0` per
    /// module of the link's QR code, row by row.
    #[wasm_bindgen(js_name = createInvite)]
    pub fn create_invite(
        &self,
        group_id: &str,
        role: &str,
        uses: u32,
        days: u32,
        relay: &str,
    ) -> Result<String, JsError> {
        let role: Role = role.parse().map_err(js)?;
        let valid_for = i64::from(days) * 24 * 60 * 60 * 1000;
        let (invite, code) = self
            .device
            .create_invite(group_id, role, uses, valid_for, Some(relay))
            .map_err(js)?;
        let link = groundwork_core::identity::invite_link(&invite, &code);
        let qr = qrcode::QrCode::with_error_correction_level(&link, qrcode::EcLevel::L)
            .map_err(|e| JsError::new(&format!("the link is too long for a QR code: {e}")))?;
        let dark: String = qr
            .to_colors()
            .iter()
            .map(|c| if *c == qrcode::Color::Dark { '1' } else { '0' })
            .collect();
        json(&serde_json::json!({
            "link": link,
            "role": invite.role,
            "uses": invite.uses,
            "expires_at": invite.expires_at,
            "qr": { "width": qr.width(), "dark": dark },
        }))
    }

    /// The group's contacts this device may read as CSV (the CLI's `contact export` columns),
    /// made here for the person to save: `{"count", "csv"}`.
    #[wasm_bindgen(js_name = contactsCsv)]
    pub fn contacts_csv(&mut self, group_id: &str) -> Result<String, JsError> {
        let (count, csv) = self.device.contacts_csv(group_id).map_err(js)?;
        json(&serde_json::json!({ "count": count, "csv": csv }))
    }

    /// The county boards on this device (each county where a group of this device shares an
    /// official), as JSON: core's `Board`s, each meeting's `zone` filled in (its own, else the
    /// county's).
    pub fn boards(&mut self) -> Result<String, JsError> {
        let mut boards = self.device.boards().map_err(js)?;
        for board in &mut boards {
            let zones: Vec<(String, String, Option<String>)> = board
                .officials
                .iter()
                .flat_map(|(key, o)| {
                    o.meetings.iter().map(|(id, m)| {
                        (key.clone(), id.clone(), board.zone_of(m).map(str::to_owned))
                    })
                })
                .collect();
            for (key, id, zone) in zones {
                if let Some(m) = board
                    .officials
                    .get_mut(&key)
                    .and_then(|o| o.meetings.get_mut(&id))
                {
                    m.zone = zone;
                }
            }
        }
        json(&boards)
    }

    /// The names of the group's current leads, as JSON.
    pub fn leads(&mut self, group_id: &str) -> Result<String, JsError> {
        let members = self.device.members(group_id).map_err(js)?;
        let names: Vec<String> = members
            .into_iter()
            .filter(|(_, m)| m.role == Role::Lead && m.removed_at.is_none())
            .map(|(_, m)| m.name)
            .collect();
        json(&names)
    }

    /// How many contacts this device logged in the group that the relay does not have yet.
    #[wasm_bindgen(js_name = unsentContacts)]
    pub fn unsent_contacts(&mut self, group_id: &str) -> Result<usize, JsError> {
        self.device.unsent_contacts(group_id).map_err(js)
    }

    /// Folds documents' many small chunks into snapshots; the worker calls it when idle (a
    /// browser has no thread for it). Returns how many documents were compacted.
    #[wasm_bindgen(js_name = compactWaiting)]
    pub fn compact_waiting(&mut self) -> Result<usize, JsError> {
        self.device.compact_waiting().map_err(js)
    }

    /// The URL to open a `WebSocket` to `relay` with: it carries this device's signed
    /// connection proof, made for that relay alone.
    #[wasm_bindgen(js_name = connectUrl)]
    pub fn connect_url(&self, relay: &str) -> Result<String, JsError> {
        self.device.connect_url(relay).map_err(js)
    }

    /// Starts joining with an invite link (`https://RELAY/join#CODE`) or code: its signature
    /// is checked here, offline, and it must be an invite to `relay` (the relay that served
    /// this app): its code is sent to its own relay and nowhere else.
    #[wasm_bindgen(js_name = beginJoin)]
    pub fn begin_join(&self, link: &str, relay: &str) -> Result<JoinFlow, JsError> {
        let join = self.device.begin_join(link, None).map_err(js)?;
        let same = groundwork_core::relay::audience(&join.relay).map_err(js)?
            == groundwork_core::relay::audience(relay).map_err(js)?;
        if !same {
            return Err(JsError::new(&format!(
                "this invite is for the relay at {}, not this one: open the link you were sent \
                 as it is",
                join.relay
            )));
        }
        Ok(JoinFlow { join })
    }

    /// Starts syncing with `relay` over a socket the worker has opened (or is opening).
    #[wasm_bindgen(js_name = startSync)]
    pub fn start_sync(&mut self, relay: &str) -> Result<SyncSession, JsError> {
        Ok(SyncSession {
            session: Session::start(&mut self.device, relay).map_err(js)?,
            pending: None,
            next_request: 1,
            answers: HashMap::new(),
        })
    }
}

/// One connection's sync, driven by the worker's `WebSocket`.
#[wasm_bindgen]
pub struct SyncSession {
    session: Session,
    /// Documents not yet synced both ways at the last step, once the relay offered everything.
    pending: Option<usize>,
    /// The id the next request gets.
    next_request: u32,
    /// The relay's answers to requests, by id, until taken.
    answers: HashMap<u32, groundwork_core::Result<Answer>>,
}

/// An invite being redeemed: [`WebDevice::begin_join`], then [`SyncSession::request_join`]
/// once connected, then [`SyncSession::finish_join`] until it answers.
#[wasm_bindgen]
pub struct JoinFlow {
    join: Join,
}

#[wasm_bindgen]
impl JoinFlow {
    /// What the invite grants, as JSON: `{"group", "role", "expires_at"}`.
    pub fn describe(&self) -> Result<String, JsError> {
        let invite = &self.join.invite;
        json(&serde_json::json!({
            "group": invite.group,
            "role": invite.role,
            "expires_at": invite.expires_at,
        }))
    }
}

/// What a step produced, for the worker.
#[derive(Serialize)]
struct StepReport {
    /// Whether the relay's handshake arrived.
    ready: bool,
    /// Documents not yet synced both ways (once ready and everything was offered).
    pending: Option<usize>,
    /// Groups this device was removed from and wiped.
    wiped: Vec<String>,
    /// Documents the relay changed here.
    changed: Vec<String>,
}

#[wasm_bindgen]
impl SyncSession {
    /// Takes in one binary frame from the relay.
    pub fn receive(&mut self, frame: &[u8]) {
        self.session.receive(frame);
    }

    /// Hands the relay what was saved since the last step (edits made while connected).
    #[wasm_bindgen(js_name = pushLocal)]
    pub fn push_local(&mut self, device: &mut WebDevice) -> Result<(), JsError> {
        self.session.push_local(&mut device.device).map_err(js)
    }

    /// Runs what the last frames asked for against the store; returns the frames to send, in
    /// order. [`SyncSession::report`] then says where the sync stands.
    pub fn step(&mut self, device: &mut WebDevice) -> Result<Vec<js_sys::Uint8Array>, JsError> {
        let step = self.session.step(&mut device.device).map_err(js)?;
        for answer in step.answers {
            if let Control::Response { id, ok, error } = answer
                && let Ok(id) = u32::try_from(id)
            {
                let answer = ok.ok_or_else(|| Error::NotAllowed {
                    reason: error.unwrap_or_else(|| "the relay refused without a reason".into()),
                });
                self.answers.insert(id, answer);
            }
        }
        self.pending = match step.pending {
            Some(pending) if self.session.heard_all() => Some(pending.len()),
            _ => None,
        };
        Ok(step
            .frames
            .iter()
            .map(|f| js_sys::Uint8Array::from(f.as_slice()))
            .collect())
    }

    /// Sends the request that redeems `flow`'s invite for a device named `name` (once the
    /// relay's handshake arrived: see `report`'s `ready`); returns the request's id.
    #[wasm_bindgen(js_name = requestJoin)]
    pub fn request_join(&mut self, flow: &JoinFlow, name: &str) -> u32 {
        self.request(flow.join.request(name))
    }

    /// Once the relay answered request `id`, records the membership and returns the group
    /// joined as JSON (`{"group_id", "role", "checked_by", "relay"}`); until then `undefined`.
    /// A refusal is an error with the relay's reason.
    #[wasm_bindgen(js_name = finishJoin)]
    pub fn finish_join(
        &mut self,
        flow: &JoinFlow,
        id: u32,
        device: &mut WebDevice,
    ) -> Result<Option<String>, JsError> {
        let Some(answer) = self.answers.remove(&id) else {
            return Ok(None);
        };
        let joined = flow.join.finish(&mut device.device, answer).map_err(js)?;
        // The new group's documents are offered on this connection from now on.
        self.session.push_local(&mut device.device).map_err(js)?;
        Ok(Some(json(&joined)?))
    }

    /// Asks the relay to remove `device` from `group` (leads); returns the request's id, for
    /// [`SyncSession::answer`]. Once connected (`report`'s `ready`).
    #[wasm_bindgen(js_name = removeMember)]
    pub fn remove_member(&mut self, group: &str, device: &str) -> u32 {
        self.request(Request::RemoveMember {
            group: group.to_owned(),
            device: device.to_owned(),
        })
    }

    /// The relay's answer to request `id` as JSON once it came, else `undefined`; a refusal
    /// is an error with the relay's reason.
    pub fn answer(&mut self, id: u32) -> Result<Option<String>, JsError> {
        match self.answers.remove(&id) {
            None => Ok(None),
            Some(answer) => Ok(Some(json(&answer.map_err(js)?)?)),
        }
    }

    /// Lets the hub's timers run (retries of unanswered requests).
    pub fn tick(&mut self) {
        self.session.tick();
    }

    /// Where the sync stands since the last report, as JSON: `{"ready", "pending", "wiped",
    /// "changed"}` (`pending` is null until the relay has offered everything).
    pub fn report(&mut self) -> Result<String, JsError> {
        let mut changed: Vec<String> = self
            .session
            .take_changed()
            .iter()
            .map(ToString::to_string)
            .collect();
        changed.sort();
        changed.dedup();
        json(&StepReport {
            ready: self.session.peer().is_some(),
            pending: self.pending,
            wiped: self.session.take_wiped(),
            changed,
        })
    }

    /// Saves what each document's exchange reached; call it when the socket closes, however.
    pub fn disconnect(&mut self, device: &mut WebDevice) -> Result<(), JsError> {
        self.session.disconnect(&mut device.device).map_err(js)
    }
}

impl SyncSession {
    /// Sends `request` to the relay; returns its id, under which its answer is kept.
    fn request(&mut self, request: Request) -> u32 {
        let id = self.next_request;
        self.next_request += 1;
        self.session.send_control(&Control::Request {
            id: u64::from(id),
            request,
        });
        id
    }
}
