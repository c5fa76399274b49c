//! [`GroundworkStore`]: one opened device store, and everything the CLI can do with it.
//!
//! Every method that touches SQLite or the network is `async` and runs on the SDK's runtime;
//! an edit is saved (one SQLite transaction) when its call returns. Observers hear of local
//! edits as they are saved and of the relay's as they are stored.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use groundwork_core::identity::{Invite, Role};
use groundwork_core::net::{RunOptions, SyncEvent};
use groundwork_core::requests::{Flow, FollowBoard, RemoveMember, SignUp};
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{NewAction, NewMeeting, NewResponse, NewTarget};
use groundwork_core::schema::vocab::{MeetingStatus, Visibility};
use groundwork_core::store::StoreKey;
use groundwork_core::store::index::{ActionRow, ContactRow, MeetingRow, ScorecardRow, TargetRow};
use groundwork_core::sync::connection::ConnectionState;
use groundwork_core::{Device, DeviceInfo, GroupSummary};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::{GroundworkError, Result};
use crate::observe::{ChangeObserver, Subscription, Subscriptions, SyncStatusObserver};
use crate::runtime;
use crate::types::{
    Board, ChangeEvent, ChangeOrigin, ContactFilter, DocumentKind, DocumentSync, InviteCode,
    Joined, Meeting, Member, StoreStatus, SyncReport, SyncStatus,
};

/// How long a relay request (join, remove, sign up) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One device store, opened with its key. Share it across the app; every method is safe to
/// call from any thread, and none blocks its caller on I/O.
#[derive(uniffi::Object)]
pub struct GroundworkStore {
    info: DeviceInfo,
    device: Arc<Mutex<Device>>,
    changes: broadcast::Sender<ChangeEvent>,
    status: Arc<watch::Sender<SyncStatus>>,
    sync: Mutex<Option<RunningSync>>,
    subscriptions: Subscriptions,
}

/// The background sync, while one runs.
struct RunningSync {
    relay: String,
    /// Set to stop it; dropping it stops it too.
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

/// Locks a mutex. Every edit is one SQLite transaction and the in-memory documents catch up
/// from the store, so a panic elsewhere while it was held left nothing half written: a
/// poisoned lock is taken as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A store key from the app's keystore: exactly 32 bytes.
fn store_key(key: &[u8]) -> Result<StoreKey> {
    let bytes: [u8; 32] = key.try_into().map_err(|_| {
        GroundworkError::InvalidInput(format!(
            "a store key is 32 bytes (from generateStoreKey); got {}",
            key.len()
        ))
    })?;
    Ok(StoreKey::from_bytes(bytes))
}

/// A fresh random store key, to keep in the platform's keystore (Android Keystore, iOS
/// Keychain) and pass to [`GroundworkStore::create`] and [`GroundworkStore::open`].
#[uniffi::export]
pub fn generate_store_key() -> Result<Vec<u8>> {
    Ok(StoreKey::generate()?.as_bytes().to_vec())
}

/// Counties of the directory matching `text` (a name, optionally with its state, or a FIPS
/// code), best first, at most `limit`. Offline.
#[uniffi::export]
pub fn search_places(text: String, limit: u32) -> Vec<crate::types::County> {
    groundwork_core::places::search(&text, limit as usize)
        .into_iter()
        .map(Into::into)
        .collect()
}

/// The model rules, in order, with their titles and one-line summaries.
#[uniffi::export]
pub fn rules() -> Vec<crate::types::Rule> {
    groundwork_core::rules::RULES
        .iter()
        .map(Into::into)
        .collect()
}

#[uniffi::export]
impl GroundworkStore {
    /// Creates a new device store in `dir` (the app's private files directory), encrypted with
    /// `key`, for a device its owner calls `name`. Fails if a store is already there.
    #[uniffi::constructor]
    pub async fn create(dir: String, name: String, key: Vec<u8>) -> Result<Arc<Self>> {
        let key = store_key(&key)?;
        let device =
            runtime::blocking(move || Ok(Device::init(&PathBuf::from(dir), &name, &key)?)).await?;
        Ok(Self::wrap(device))
    }

    /// Opens the device store in `dir` with its key.
    #[uniffi::constructor]
    pub async fn open(dir: String, key: Vec<u8>) -> Result<Arc<Self>> {
        let key = store_key(&key)?;
        let device =
            runtime::blocking(move || Ok(Device::open(&PathBuf::from(dir), &key)?)).await?;
        Ok(Self::wrap(device))
    }

    /// Who this device is.
    pub fn device_info(&self) -> DeviceInfo {
        self.info.clone()
    }

    // --- groups ---

    /// Starts a new group, led by this device; returns its id.
    pub async fn create_group(&self, name: String, jurisdiction: Option<String>) -> Result<String> {
        self.edit(DocumentKind::Plan, move |d| {
            let id = d.create_group(&name, jurisdiction)?;
            Ok((id.clone(), id))
        })
        .await
    }

    /// The groups this device is in.
    pub async fn groups(&self) -> Result<Vec<GroupSummary>> {
        self.read(|d| Ok(d.groups()?)).await
    }

    /// The group's members, as the relay's roster says (synced like any document).
    pub async fn members(&self, group_id: String) -> Result<Vec<Member>> {
        let members = self.read(move |d| Ok(d.members(&group_id)?)).await?;
        Ok(members
            .into_iter()
            .map(|(device_id, m)| Member {
                device_id,
                name: m.name,
                role: m.role,
                joined_at: m.joined_at,
                removed_at: m.removed_at,
            })
            .collect())
    }

    // --- targets, meetings, actions ---

    /// Adds an official the group will ask; returns its id.
    pub async fn add_target(&self, group_id: String, target: NewTarget) -> Result<String> {
        self.edit(DocumentKind::Plan, move |d| {
            Ok((d.add_target(&group_id, target)?, group_id))
        })
        .await
    }

    /// The group's targets.
    pub async fn targets(&self, group_id: String) -> Result<Vec<TargetRow>> {
        self.read(move |d| Ok(d.targets(&group_id)?)).await
    }

    /// Plans a meeting; returns its id.
    pub async fn create_meeting(&self, group_id: String, meeting: NewMeeting) -> Result<String> {
        self.edit(DocumentKind::Plan, move |d| {
            Ok((d.create_meeting(&group_id, meeting)?, group_id))
        })
        .await
    }

    /// The group's meetings.
    pub async fn meetings(&self, group_id: String) -> Result<Vec<MeetingRow>> {
        self.read(move |d| Ok(d.meetings(&group_id)?)).await
    }

    /// A meeting in full: agenda, roles, notes.
    pub async fn meeting(&self, meeting_id: String) -> Result<Meeting> {
        Ok(self
            .read(move |d| Ok(d.meeting(&meeting_id)?))
            .await?
            .into())
    }

    /// Appends an item to a meeting's agenda; returns the item's id.
    pub async fn add_agenda_item(&self, meeting_id: String, text: String) -> Result<String> {
        self.edit(DocumentKind::Plan, move |d| {
            let item = d.add_agenda_item(&meeting_id, &text)?;
            Ok((item, d.group_of_meeting(&meeting_id)?))
        })
        .await
    }

    /// Appends a paragraph to a meeting's shared notes.
    pub async fn append_notes(&self, meeting_id: String, text: String) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.append_notes(&meeting_id, &text)?;
            Ok(((), d.group_of_meeting(&meeting_id)?))
        })
        .await
    }

    /// Moves a meeting to a new status (requested, scheduled, held...).
    pub async fn set_meeting_status(
        &self,
        meeting_id: String,
        status: MeetingStatus,
    ) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.set_meeting_status(&meeting_id, status)?;
            Ok(((), d.group_of_meeting(&meeting_id)?))
        })
        .await
    }

    /// Chooses who beyond the group sees a meeting (leads only).
    pub async fn set_meeting_visibility(
        &self,
        meeting_id: String,
        visibility: Visibility,
    ) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.set_meeting_visibility(&meeting_id, visibility)?;
            Ok(((), d.group_of_meeting(&meeting_id)?))
        })
        .await
    }

    /// Sets how many months of contacts a group keeps (`None`: all; leads only), after
    /// writing the contacts about to be erased to the CSV file `export`, if given; returns
    /// how many were exported. Older months are erased here at once, and on the relay and
    /// every device as the setting reaches them.
    pub async fn set_retention(
        &self,
        group_id: String,
        months: Option<u64>,
        export: Option<String>,
    ) -> Result<u64> {
        self.edit(DocumentKind::Plan, move |d| {
            let n = d.set_retention(
                &group_id,
                months,
                export.as_deref().map(std::path::Path::new),
            )?;
            Ok((n as u64, group_id))
        })
        .await
    }

    /// Shows a meeting to the group's canvassers, or stops (leads only). Canvassers' devices
    /// hold no plan: only the group's name, leads, officials and the meetings shown to them.
    pub async fn set_meeting_for_canvassers(&self, meeting_id: String, shown: bool) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.set_meeting_canvassers(&meeting_id, shown)?;
            Ok(((), d.group_of_meeting(&meeting_id)?))
        })
        .await
    }

    /// Turns the group's sharing with the campaign on or off (leads only): its targets,
    /// official meetings' status and time, rule responses and canvass counts; never contacts'
    /// details, notes or agendas.
    pub async fn set_group_sharing(&self, group_id: String, on: bool) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.set_group_sharing(&group_id, on)?;
            Ok(((), group_id))
        })
        .await
    }

    /// Adds an action item; returns its id.
    pub async fn add_action(&self, group_id: String, action: NewAction) -> Result<String> {
        self.edit(DocumentKind::Plan, move |d| {
            Ok((d.add_action(&group_id, action)?, group_id))
        })
        .await
    }

    /// Marks an action item done, or not done.
    pub async fn set_action_done(&self, action_id: String, done: bool) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.set_action_done(&action_id, done)?;
            Ok(((), d.group_of_action(&action_id)?))
        })
        .await
    }

    /// The group's action items.
    pub async fn actions(&self, group_id: String) -> Result<Vec<ActionRow>> {
        self.read(move |d| Ok(d.actions(&group_id)?)).await
    }

    // --- rule responses ---

    /// Records what an official answered on one rule (replacing an earlier answer).
    pub async fn record_response(&self, group_id: String, response: NewResponse) -> Result<()> {
        self.edit(DocumentKind::Plan, move |d| {
            d.record_response(&group_id, response)?;
            Ok(((), group_id))
        })
        .await
    }

    /// Every target's answer on every rule; one target's if `target_id` is given.
    pub async fn scorecard(
        &self,
        group_id: String,
        target_id: Option<String>,
    ) -> Result<Vec<ScorecardRow>> {
        self.read(move |d| Ok(d.scorecard(&group_id, target_id.as_deref())?))
            .await
    }

    /// The boards on this device (counties where one of its groups shares an official, and
    /// counties it follows), as last synced; offline.
    pub async fn boards(&self) -> Result<Vec<Board>> {
        let boards = self.read(|d| Ok(d.boards()?)).await?;
        Ok(boards.into_iter().map(Board::from).collect())
    }

    /// One county's board (its FIPS code), as last synced; offline.
    pub async fn board(&self, county: String) -> Result<Board> {
        Ok(self.read(move |d| Ok(d.board(&county)?)).await?.into())
    }

    /// Follows (or, with `follow` false, stops following) a county's board, at `relay` or the
    /// relay this device last reached; the board arrives with the next sync. Returns every
    /// county followed now. Leads, members and campaign staff.
    #[uniffi::method(default(relay = None))]
    pub async fn follow_board(
        &self,
        county: String,
        follow: bool,
        relay: Option<String>,
    ) -> Result<Vec<String>> {
        self.ask(relay, FollowBoard::new(&county, follow)?).await
    }

    /// The counties this device follows, as the relay last confirmed; offline.
    pub async fn followed_counties(&self) -> Result<Vec<String>> {
        self.read(|d| Ok(d.followed_counties()?)).await
    }

    // --- contacts ---

    /// Logs a contact at a door; saved (and safe from a crash) when this returns.
    pub async fn log_contact(&self, group_id: String, contact: NewContact) -> Result<String> {
        self.edit(DocumentKind::Contacts, move |d| {
            Ok((d.log_contact(&group_id, contact)?, group_id))
        })
        .await
    }

    /// The group's contacts this device may read, newest first, a page at a time.
    pub async fn contacts(
        &self,
        group_id: String,
        filter: ContactFilter,
    ) -> Result<Vec<ContactRow>> {
        self.read(move |d| Ok(d.contacts(&group_id, &filter.into())?))
            .await
    }

    /// How many contacts of the group this device holds.
    pub async fn contact_count(&self, group_id: String) -> Result<u64> {
        let n = self.read(move |d| Ok(d.contact_count(&group_id)?)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Writes the group's contacts to a CSV file at `path`; returns how many.
    pub async fn export_contacts_csv(&self, group_id: String, path: String) -> Result<u64> {
        let n = self
            .read(move |d| Ok(d.export_contacts_csv(&group_id, &PathBuf::from(path))?))
            .await?;
        Ok(n as u64)
    }

    // --- invites and membership ---

    /// Signs an invite to the group (leads only), redeemable `uses` times for `valid_for_ms`,
    /// naming `relay` (default: the relay this device last reached) as where it is redeemed.
    /// Its `link` is what a QR code shows and [`Self::join`] takes.
    #[uniffi::method(default(relay = None))]
    pub async fn create_invite(
        &self,
        group_id: String,
        role: Role,
        uses: u32,
        valid_for_ms: i64,
        relay: Option<String>,
    ) -> Result<InviteCode> {
        let (invite, code) = self
            .read(move |d| {
                Ok(d.create_invite(&group_id, role, uses, valid_for_ms, relay.as_deref())?)
            })
            .await?;
        Ok(invite_code(&invite, code))
    }

    /// Signs a one-use invite for another device of this device's owner, at the same role.
    #[uniffi::method(default(relay = None))]
    pub async fn create_own_device_invite(
        &self,
        group_id: String,
        valid_for_ms: i64,
        relay: Option<String>,
    ) -> Result<InviteCode> {
        let (invite, code) = self
            .read(move |d| {
                Ok(d.create_own_device_invite(&group_id, valid_for_ms, relay.as_deref())?)
            })
            .await?;
        Ok(invite_code(&invite, code))
    }

    /// The relay this device last reached (remembered from a join or a sync), if any: the
    /// one the calls below use when they are not given one.
    pub async fn relay(&self) -> Result<Option<String>> {
        self.read(|d| Ok(d.relay()?)).await
    }

    /// Joins a group with an invite link (`code` may also be the bare code): its signature is checked here
    /// first (a link whose relay was altered is refused before anything is dialled), then the
    /// relay it names (or `relay`, which overrides it) checks it and adds this device to the
    /// roster, and the group's data is fetched. A plain automerge-repo server cannot check
    /// invites: then the expiry is checked here too.
    #[uniffi::method(default(relay = None))]
    pub async fn join(&self, code: String, relay: Option<String>) -> Result<Joined> {
        let device = self.device.clone();
        let joined = runtime::cancellable(move |rt, cancelled| {
            // Core's join flow, as the CLI and the web app run it: the signature checked before
            // anything is dialled, the answer (or a plain server's silence) judged by core. The
            // store is locked for each step, never across the network: a save made meanwhile
            // does not wait for the relay.
            let groundwork_core::Joined {
                group_id: group,
                role,
                relay,
                ..
            } = rt.block_on(async {
                tokio::select! {
                    biased;
                    () = cancelled.wait() => Err(GroundworkError::Cancelled),
                    joined = groundwork_core::net::join(
                        &*device, &code, relay.as_deref(), REQUEST_TIMEOUT
                    ) => joined.map_err(no_relay),
                }
            })?;
            // Fetch the group now; a failure leaves it for the next sync.
            let synced = rt
                .block_on(groundwork_core::net::sync_once(
                    &*device,
                    &relay,
                    REQUEST_TIMEOUT,
                ))
                .is_ok_and(|s| s.synced);
            Ok(Joined {
                group_id: group,
                role,
                synced,
            })
        })
        .await?;
        self.changed(&joined.group_id, DocumentKind::Plan, ChangeOrigin::Relay);
        Ok(joined)
    }

    /// Removes a device from the group (leads; or a member reporting their own lost device).
    /// The relay stops serving it at once and tells it to wipe the group when it next connects.
    #[uniffi::method(default(relay = None))]
    pub async fn remove_member(
        &self,
        group_id: String,
        device_id: String,
        relay: Option<String>,
    ) -> Result<()> {
        let flow = RemoveMember {
            group: group_id,
            device: device_id,
        };
        self.ask(relay, flow).await
    }

    /// Signs this device up with a relay that requires a sign-up code to create groups.
    #[uniffi::method(default(relay = None))]
    pub async fn sign_up(&self, code: String, relay: Option<String>) -> Result<()> {
        self.ask(relay, SignUp { code }).await
    }

    // --- sync ---

    /// Syncs every document both ways once, and returns when all are synced (or `timeout_ms`
    /// passes), with `relay` or, when it is `None`, the relay this device last reached.
    /// Cancelling the call closes the connection at once.
    pub async fn sync_once(&self, relay: Option<String>, timeout_ms: u64) -> Result<SyncReport> {
        let device = self.device.clone();
        let changes = self.changes.clone();
        let status = self.status.clone();
        runtime::cancellable(move |rt, cancelled| {
            let relay = lock(&device).relay_or(relay.as_deref()).map_err(no_relay)?;
            // The store is locked for each step of the exchange, never while waiting on the
            // relay: a save made meanwhile goes through at once.
            let summary = rt.block_on(async {
                tokio::select! {
                    biased;
                    () = cancelled.wait() => Err(GroundworkError::Cancelled),
                    summary = groundwork_core::net::sync_once(
                        &*device, &relay, Duration::from_millis(timeout_ms)
                    ) => summary.map_err(GroundworkError::from),
                }
            })?;
            // Told while the store is locked (see `edit`).
            let d = lock(&device);
            let relay_changes = groups_of(&d, &summary.changed)
                .into_iter()
                .map(|(group, kind)| (group, kind, ChangeOrigin::Relay));
            let wipes = summary
                .wiped
                .iter()
                .map(|group| (Some(group.clone()), DocumentKind::Plan, ChangeOrigin::Wiped));
            for (group_id, kind, origin) in relay_changes.chain(wipes) {
                let _ = changes.send(ChangeEvent {
                    group_id,
                    kind,
                    origin,
                });
            }
            if summary.synced {
                let documents = u32::try_from(summary.documents).unwrap_or(u32::MAX);
                status.send_modify(|s| {
                    s.relay = Some(summary.relay.clone());
                    s.synced = true;
                    s.documents = documents;
                });
            }
            Ok(SyncReport::from(summary))
        })
        .await
    }

    /// Keeps this device synced with `relay` in the background until [`Self::stop_sync`] (or
    /// until the store is closed): edits go out as they are saved, other devices' come in as
    /// they arrive, and a lost connection is retried with a growing, jittered wait. Starting it
    /// again with another relay moves it there. `None`: the relay this device last reached.
    pub fn start_sync(&self, relay: Option<String>) -> Result<()> {
        let relay = lock(&self.device)
            .relay_or(relay.as_deref())
            .map_err(no_relay)?;
        let mut running = lock(&self.sync);
        if running
            .as_ref()
            .is_some_and(|r| r.relay == relay && !r.task.is_finished())
        {
            return Ok(());
        }
        let (stop, stop_rx) = watch::channel(false);
        let device = self.device.clone();
        let on_event = self.on_sync_event();
        let options = RunOptions::new(&relay);
        // `run` takes the store's lock (a std mutex) for each step: on a blocking thread, a
        // wait for it (behind a long save) never stalls the runtime's workers, which drive
        // every socket.
        let rt = runtime::handle()?;
        // A sync moving to another relay first lets the old one finish (its last report must
        // not land after the new one's first).
        let previous = running.take().map(|old| {
            let _ = old.stop.send(true);
            old.task
        });
        let task = rt.clone().spawn_blocking(move || {
            if let Some(previous) = previous {
                let _ = rt.block_on(previous);
            }
            rt.block_on(groundwork_core::net::run(
                &device, options, stop_rx, on_event,
            ))
            .map_err(GroundworkError::from)
        });
        *running = Some(RunningSync { relay, stop, task });
        Ok(())
    }

    /// Stops the background sync and waits until it has saved where each document's exchange
    /// got to. Returns the error that ended it, if one did (only a failing store does).
    pub async fn stop_sync(&self) -> Result<()> {
        let running = lock(&self.sync).take();
        let Some(running) = running else {
            return Ok(());
        };
        let _ = running.stop.send(true);
        match running.task.await {
            Ok(result) => result,
            Err(e) => Err(GroundworkError::Storage(format!(
                "the sync task failed: {e}"
            ))),
        }
    }

    /// Where syncing stands: the connection as last recorded, and each document's standing.
    pub async fn status(&self) -> Result<StoreStatus> {
        let (connection, docs) = self
            .read(|d| Ok((d.connection()?, d.sync_status()?)))
            .await?;
        let now = groundwork_core::time::now_ms();
        let documents = docs
            .into_iter()
            .map(|doc| {
                Ok(DocumentSync {
                    kind: groundwork_core::schema::DocKind::parse(doc.kind)
                        .map(DocumentKind::from)
                        .ok_or_else(|| {
                            GroundworkError::CorruptStore(format!(
                                "unknown document kind {:?}",
                                doc.kind
                            ))
                        })?,
                    document_id: doc.doc_id,
                    group_id: doc.group_id,
                    synced: doc.synced,
                    synced_at: doc.synced_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let synced = documents.iter().filter(|d| d.synced).count();
        Ok(StoreStatus {
            connection: connection.map(|c| c.at(now).into()),
            synced: u32::try_from(synced).unwrap_or(u32::MAX),
            documents,
        })
    }

    // --- observers ---

    /// Calls `observer` on every change to any group's documents, local or from the relay,
    /// until the returned subscription is cancelled or dropped.
    pub fn subscribe_changes(
        &self,
        observer: Arc<dyn ChangeObserver>,
    ) -> Result<Arc<Subscription>> {
        self.subscriptions
            .changes(self.changes.subscribe(), observer)
    }

    /// Calls `observer` with the sync status now, then on every change, until the returned
    /// subscription is cancelled or dropped.
    pub fn subscribe_sync_status(
        &self,
        observer: Arc<dyn SyncStatusObserver>,
    ) -> Result<Arc<Subscription>> {
        self.subscriptions.status(self.status.subscribe(), observer)
    }

    /// How many subscriptions of this store are alive (not yet dropped): a leak shows here.
    pub fn live_subscriptions(&self) -> u32 {
        self.subscriptions.live()
    }
}

impl GroundworkStore {
    fn wrap(device: Device) -> Arc<Self> {
        let (changes, _) = broadcast::channel(1024);
        Arc::new(GroundworkStore {
            info: device.info().clone(),
            device: Arc::new(Mutex::new(device)),
            changes,
            status: Arc::new(watch::channel(SyncStatus::offline()).0),
            sync: Mutex::new(None),
            subscriptions: Subscriptions::default(),
        })
    }

    /// Runs a read (or an edit observers need not hear of) on the blocking pool.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Device) -> Result<T> + Send + 'static,
    {
        let device = self.device.clone();
        runtime::blocking(move || work(&mut lock(&device))).await
    }

    /// Runs an edit that returns its result and the group it changed, then tells observers.
    async fn edit<T, F>(&self, kind: DocumentKind, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Device) -> Result<(T, String)> + Send + 'static,
    {
        let changes = self.changes.clone();
        let status = self.status.clone();
        self.read(move |d| {
            let (value, group) = work(d)?;
            // Told while the store is still locked, so the news can neither be lost to a
            // cancelled caller nor overtake a sync that runs next.
            let _ = changes.send(ChangeEvent {
                group_id: Some(group),
                kind,
                origin: ChangeOrigin::Local,
            });
            // An edit not yet sent: no longer synced, until the running sync says so again.
            status.send_if_modified(|s| std::mem::replace(&mut s.synced, false));
            Ok(value)
        })
        .await
    }

    fn changed(&self, group: &str, kind: DocumentKind, origin: ChangeOrigin) {
        // No receivers is fine: nobody is listening.
        let _ = self.changes.send(ChangeEvent {
            group_id: Some(group.to_owned()),
            kind,
            origin,
        });
    }

    /// Runs one of core's request flows with the relay (`None`: the one this device last
    /// reached), cancellable: core sends the request and judges the answer.
    async fn ask<F>(&self, relay: Option<String>, flow: F) -> Result<F::Output>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static,
    {
        let device = self.device.clone();
        runtime::cancellable(move |rt, cancelled| {
            let relay = lock(&device).relay_or(relay.as_deref()).map_err(no_relay)?;
            rt.block_on(async {
                tokio::select! {
                    biased;
                    () = cancelled.wait() => Err(GroundworkError::Cancelled),
                    output = groundwork_core::net::ask(&*device, &relay, &flow, REQUEST_TIMEOUT) =>
                        output.map_err(GroundworkError::from),
                }
            })
        })
        .await
    }

    /// What the background sync reports becomes status updates and change events.
    fn on_sync_event(&self) -> impl FnMut(&SyncEvent) + Send + 'static {
        let status = self.status.clone();
        let changes = self.changes.clone();
        let device = self.device.clone();
        move |event| match event {
            SyncEvent::Connection(record) => status.send_modify(|s| {
                let synced = s.synced && record.state == ConnectionState::Connected;
                *s = SyncStatus {
                    synced,
                    documents: s.documents,
                    ..record.clone().into()
                };
            }),
            SyncEvent::Synced { documents, .. } => status.send_modify(|s| {
                s.synced = true;
                s.documents = u32::try_from(*documents).unwrap_or(u32::MAX);
            }),
            SyncEvent::Changed { document } => {
                let changed = groups_of(&lock(&device), std::slice::from_ref(document));
                for (group_id, kind) in changed {
                    let _ = changes.send(ChangeEvent {
                        group_id,
                        kind,
                        origin: ChangeOrigin::Relay,
                    });
                }
            }
            SyncEvent::Wiped { group } => {
                let _ = changes.send(ChangeEvent {
                    group_id: Some(group.clone()),
                    kind: DocumentKind::Plan,
                    origin: ChangeOrigin::Wiped,
                });
            }
        }
    }
}

/// The group and kind of each of `docs` this device holds (one entry per group and kind).
fn groups_of(device: &Device, docs: &[String]) -> Vec<(Option<String>, DocumentKind)> {
    let Ok(records) = device.documents() else {
        return Vec::new();
    };
    let mut out: Vec<(Option<String>, DocumentKind)> = records
        .into_iter()
        .filter(|r| docs.iter().any(|d| *d == r.doc_id.to_string()))
        .map(|r| (r.group_id, r.kind.into()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Core's "no relay" names the CLI's flag; an app passes the relay as an argument.
fn no_relay(e: groundwork_core::Error) -> GroundworkError {
    match e {
        groundwork_core::Error::NoRelay => GroundworkError::InvalidInput(
            "no relay given and this device has not reached one yet: pass the relay's URL \
             (e.g. wss://relay.example.org/v1/sync); once a join or a sync reaches it, it is \
             remembered"
                .into(),
        ),
        e => e.into(),
    }
}

fn invite_code(invite: &Invite, code: String) -> InviteCode {
    InviteCode {
        link: groundwork_core::identity::join_link(&code),
        web_link: invite
            .relay
            .as_ref()
            .map(|_| groundwork_core::identity::invite_link(invite, &code)),
        relay: invite.relay.clone(),
        code,
        role: invite.role,
        uses: invite.uses,
        expires_at: invite.expires_at,
    }
}
