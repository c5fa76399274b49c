//! The campaign index stays right: random plan edits and contacts from the devices of several
//! groups (leads and members editing apart), delivered to a real relay in random orders, leave
//! the relay's campaign tables equal to ones rebuilt from scratch from the final plans and
//! contacts. Seeded by proptest; a failure prints its case.

use std::time::Duration;

use groundwork_core::Device;
use groundwork_core::campaign::Shared;
use groundwork_core::identity::Role;
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{NewMeeting, NewResponse, NewTarget};
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, MeetingKind, MeetingStatus, Office, Position, Visibility,
};
use groundwork_core::store::StoreKey;
use groundwork_core::store::index::ContactQuery;
use groundwork_core::sync::control::{Answer, Request};
use groundwork_relay::store::{RelayStore, Write};
use groundwork_relay::{Config, campaign, serve};
use proptest::prelude::*;

const GROUPS: usize = 3;
/// Counties and offices few enough that groups often ask the same official.
const COUNTIES: &[&str] = &["06065", "48453"];
const OFFICES: &[Office] = &[Office::Sheriff, Office::PoliceChief];

#[derive(Clone, Debug)]
enum Op {
    /// A device (group, 0 lead / 1 member) adds a target.
    Target(usize, usize, usize, usize),
    /// A device records an answer: (group, device, target index, rule, position).
    Answer(usize, usize, usize, usize, usize),
    /// A device creates an official meeting with a target and moves it to a status.
    Meeting(usize, usize, usize, usize),
    /// The lead makes its latest meeting shared or public.
    Visibility(usize, bool),
    /// The lead turns sharing on or off.
    Share(usize, bool),
    /// A device logs a contact: (group, device, result, support).
    Contact(usize, usize, usize, Option<u8>),
    /// A device syncs.
    Sync(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..GROUPS;
    let d = 0..2usize;
    prop_oneof![
        2 => (g.clone(), d.clone(), 0..COUNTIES.len(), 0..OFFICES.len())
            .prop_map(|(g, d, c, o)| Op::Target(g, d, c, o)),
        3 => (g.clone(), d.clone(), 0..3usize, 0..RuleCode::ALL.len(), 0..Position::ALL.len())
            .prop_map(|(g, d, t, r, p)| Op::Answer(g, d, t, r, p)),
        2 => (g.clone(), d.clone(), 0..3usize, 0..MeetingStatus::ALL.len())
            .prop_map(|(g, d, t, s)| Op::Meeting(g, d, t, s)),
        1 => (g.clone(), any::<bool>()).prop_map(|(g, p)| Op::Visibility(g, p)),
        1 => (g.clone(), any::<bool>()).prop_map(|(g, on)| Op::Share(g, on)),
        2 => (g.clone(), d.clone(), 0..ContactResult::ALL.len(), proptest::option::of(1..=5u8))
            .prop_map(|(g, d, r, s)| Op::Contact(g, d, r, s)),
        4 => (g, d).prop_map(|(g, d)| Op::Sync(g, d)),
    ]
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct World {
    _root: tempfile::TempDir,
    url: String,
    relay_data: std::path::PathBuf,
    /// Per group: [lead, member], and the group id.
    devices: Vec<([Device; 2], String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn world() -> Res<World> {
    let root = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/v1/sync", listener.local_addr()?);
    let relay_data = root.path().join("relay");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut config = Config::new(relay_data.clone());
    config.handshakes_per_minute = 0;
    config.redemptions_per_minute = 0;
    tokio::spawn(serve(listener, config, async {
        let _ = stopped.await;
    }));
    let key = StoreKey::from_bytes([7; 32]);
    let mut devices = Vec::new();
    for g in 0..GROUPS {
        let mut lead = Device::init(&root.path().join(format!("lead{g}")), "lead", &key)?;
        let mut member = Device::init(&root.path().join(format!("member{g}")), "member", &key)?;
        let group = lead.create_group(&format!("Group {g}"), None)?;
        // Every group asks one shared official from the start, so the index is never empty.
        lead.add_target(
            &group,
            NewTarget {
                county: Some(COUNTIES[0].into()),
                office: Some(Office::Sheriff),
                ..NewTarget::default()
            },
        )?;
        sync(&mut lead, &url).await?;
        let (_, code) = lead.create_invite(&group, Role::Member, 1, 3_600_000, Some(&url))?;
        let answer = groundwork_core::net::request(
            &mut member,
            &url,
            Request::Redeem {
                invite: code,
                name: "member".into(),
            },
            Duration::from_secs(20),
        )
        .await?;
        assert!(matches!(answer, Answer::Joined { .. }));
        member.joined_group(&group, Role::Member)?;
        sync(&mut member, &url).await?;
        devices.push(([lead, member], group));
    }
    Ok(World {
        _root: root,
        url,
        relay_data,
        devices,
        stop: Some(stop),
    })
}

async fn sync(device: &mut Device, url: &str) -> Res<()> {
    let s = groundwork_core::net::sync_once(device, url, Duration::from_secs(20)).await?;
    if !s.synced {
        return Err(format!("not synced: {s:?}").into());
    }
    Ok(())
}

/// Applies one op; edits that do not apply (no target yet, a member turning sharing off) are
/// skipped, as the device refuses them.
async fn apply(w: &mut World, op: &Op) -> Res<()> {
    let url = w.url.clone();
    match *op {
        Op::Target(g, d, c, o) => {
            let (devices, group) = &mut w.devices[g];
            devices[d].add_target(
                group,
                NewTarget {
                    county: Some(COUNTIES[c].into()),
                    office: Some(OFFICES[o]),
                    ..NewTarget::default()
                },
            )?;
        }
        Op::Answer(g, d, t, r, p) => {
            let (devices, group) = &mut w.devices[g];
            let targets = devices[d].targets(group)?;
            if let Some(target) = targets.get(t % targets.len().max(1)) {
                devices[d].record_response(
                    group,
                    NewResponse {
                        target: target.target_id.clone(),
                        rule: RuleCode::ALL[r],
                        existing: ExistingPolicy::Partial,
                        position: Position::ALL[p],
                        conditions: Some(format!("condition {r}")),
                        legal_basis: None,
                        meeting: None,
                    },
                )?;
            }
        }
        Op::Meeting(g, d, t, s) => {
            let (devices, group) = &mut w.devices[g];
            let targets = devices[d].targets(group)?;
            if let Some(target) = targets.get(t % targets.len().max(1)) {
                let m = devices[d].create_meeting(
                    group,
                    NewMeeting {
                        kind: MeetingKind::Official,
                        title: "Ask".into(),
                        target: Some(target.target_id.clone()),
                        at: Some(1_800_000_000_000 + t as i64),
                        location: Some("Somewhere".into()),
                    },
                )?;
                devices[d].set_meeting_status(&m, MeetingStatus::ALL[s])?;
            }
        }
        Op::Visibility(g, public) => {
            let (devices, group) = &mut w.devices[g];
            if let Some(m) = devices[0].meetings(group)?.last() {
                let v = if public {
                    Visibility::Public
                } else {
                    Visibility::Shared
                };
                devices[0].set_meeting_visibility(&m.meeting_id, v)?;
            }
        }
        Op::Share(g, on) => {
            let (devices, group) = &mut w.devices[g];
            devices[0].set_group_sharing(group, on)?;
        }
        Op::Contact(g, d, r, support) => {
            let (devices, group) = &mut w.devices[g];
            let mut c = NewContact::new(ContactResult::ALL[r]);
            c.support = support;
            devices[d].log_contact(group, c)?;
        }
        Op::Sync(g, d) => sync(&mut w.devices[g].0[d], &url).await?,
    }
    Ok(())
}

/// The campaign tables as they would be if built from scratch from the final plans, and
/// the canvass rows (contact, group, result, support) the final contacts imply.
fn rebuilt(w: &mut World, dir: &std::path::Path) -> Res<(Vec<String>, Vec<String>)> {
    let store = RelayStore::open(
        dir,
        &groundwork_relay::key::KeySource::InDataDir.resolve(dir)?,
    )?;
    let mut writes = Vec::new();
    let mut canvass = Vec::new();
    for (devices, group) in &mut w.devices {
        let lead = &mut devices[0];
        let shared = Shared::of(&lead.plan(group)?);
        if shared.is_some() {
            // The lead reads every canvasser's contacts.
            let all = lead.contacts(
                group,
                &ContactQuery {
                    limit: 100_000,
                    ..ContactQuery::default()
                },
            )?;
            for c in all {
                canvass.push(format!(
                    "{} {group} {} {}",
                    c.contact_id,
                    c.result,
                    c.support.unwrap_or(0)
                ));
            }
        }
        writes.push(Write::Campaign {
            group: group.clone(),
            shared: shared.map(Box::new),
            at: 0,
        });
    }
    store.commit(&writes)?;
    canvass.sort();
    Ok((store.campaign(campaign::dump)?, canvass))
}

/// The relay's campaign tables: every row but canvassing, and the canvass rows.
fn relay_rows(dir: &std::path::Path) -> Res<(Vec<String>, Vec<String>)> {
    let store = RelayStore::open(
        dir,
        &groundwork_relay::key::KeySource::InDataDir.resolve(dir)?,
    )?;
    let rows = store
        .campaign(campaign::dump)?
        .into_iter()
        .filter(|l| !l.starts_with("campaign_canvass:"))
        .collect();
    let mut canvass: Vec<String> = store.campaign(|c| {
        c.query(
            "SELECT contact_id, group_id, result, support FROM campaign_canvass",
            &[],
        )?
        .into_iter()
        .map(|r| {
            Ok(format!(
                "{} {} {} {}",
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<i64>(3)?
            ))
        })
        .collect()
    })?;
    canvass.sort();
    Ok((rows, canvass))
}

async fn run_case(ops: Vec<Op>) -> Res<()> {
    let mut w = world().await?;
    for op in &ops {
        apply(&mut w, op).await?;
    }
    // Everyone syncs until everyone has everything: twice round, leads last.
    for _ in 0..2 {
        let url = w.url.clone();
        for (devices, _) in &mut w.devices {
            sync(&mut devices[1], &url).await?;
            sync(&mut devices[0], &url).await?;
        }
    }
    let scratch = w._root.path().join("rebuilt");
    let expected = rebuilt(&mut w, &scratch)?;
    let actual = relay_rows(&w.relay_data)?;
    if let Some(stop) = w.stop.take() {
        let _ = stop.send(());
    }
    if actual != expected {
        return Err(format!(
            "the relay's index differs from one rebuilt from the plans\n--- relay\n{}\n{}\n--- rebuilt\n{}\n{}",
            actual.0.join("\n"),
            actual.1.join("\n"),
            expected.0.join("\n"),
            expected.1.join("\n")
        )
        .into());
    }
    assert!(
        actual
            .0
            .iter()
            .any(|l| l.starts_with("campaign_officials:"))
            || ops.iter().any(|o| matches!(o, Op::Share(_, false))),
        "nothing reached the index: {ops:?}"
    );
    Ok(())
}

proptest! {
    // Each case runs a real relay and six devices syncing some thirty times (about ten seconds
    // a case here); CI runs a handful, GROUNDWORK_INDEX_CASES=N runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("GROUNDWORK_INDEX_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(6),
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_index_equals_one_rebuilt_from_the_plans(ops in proptest::collection::vec(op(), 5..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        rt.block_on(run_case(ops)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
