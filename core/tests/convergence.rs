//! Property tests of the documents: replicas editing apart and merging in any order converge to
//! identical documents and identical typed state, with no edit lost; and every typed value
//! survives a trip through automerge unchanged.

// A failed unwrap here is a failed property, reported with proptest's minimal input.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::Text;
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::contacts::{Contact, ContactsDoc, NewContact, Person, insert_contact};
use groundwork_core::schema::plan::{
    ActionItem, AgendaItem, Meeting, NewAction, NewMeeting, NewResponse, NewTarget, Plan, Profile,
    RuleResponse, Target,
};
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Office, Position,
    Visibility,
};
use groundwork_core::schema::{self, DocKind};
use proptest::prelude::*;

const PLAN: &str = "plan";

/// One edit a replica can make, or a merge from another replica.
#[derive(Clone, Debug)]
enum Op {
    AddTarget(String),
    CreateMeeting {
        official: bool,
        title: String,
    },
    AddAgenda {
        meeting: usize,
        text: String,
    },
    AppendNotes {
        meeting: usize,
        text: String,
    },
    SetStatus {
        meeting: usize,
        status: usize,
    },
    AddAction(String),
    SetDone {
        action: usize,
        done: bool,
    },
    Record {
        target: usize,
        rule: usize,
        existing: usize,
        position: usize,
        conditions: Option<String>,
    },
    LogContact {
        result: usize,
        support: Option<u8>,
        note: Option<String>,
        consent_name: Option<String>,
    },
    Merge {
        from: usize,
    },
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Zé漢 ]{1,10}".prop_filter("not blank", |s| !s.trim().is_empty())
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => text().prop_map(Op::AddTarget),
        1 => (any::<bool>(), text()).prop_map(|(official, title)| Op::CreateMeeting { official, title }),
        3 => (any::<usize>(), text()).prop_map(|(meeting, text)| Op::AddAgenda { meeting, text }),
        3 => (any::<usize>(), text()).prop_map(|(meeting, text)| Op::AppendNotes { meeting, text }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(meeting, status)| Op::SetStatus { meeting, status }),
        1 => text().prop_map(Op::AddAction),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(action, done)| Op::SetDone { action, done }),
        3 => (any::<usize>(), any::<usize>(), any::<usize>(), any::<usize>(), proptest::option::of(text()))
            .prop_map(|(target, rule, existing, position, conditions)| Op::Record {
                target, rule, existing, position, conditions
            }),
        4 => (any::<usize>(), proptest::option::of(1u8..=5), proptest::option::of(text()),
              proptest::option::of(text()))
            .prop_map(|(result, support, note, consent_name)| Op::LogContact {
                result, support, note, consent_name
            }),
        3 => (0..replicas).prop_map(|from| Op::Merge { from }),
    ]
}

/// A device's copy of a group: the plan and every canvasser's contacts document.
struct Replica {
    name: String,
    plan: AutoCommit,
    contacts: Vec<AutoCommit>,
    logged: usize,
}

fn edit_plan(doc: &mut AutoCommit, f: impl FnOnce(&mut Plan)) {
    let mut plan: Plan = schema::hydrate(doc, PLAN, DocKind::Plan).unwrap();
    f(&mut plan);
    schema::reconcile(doc, &plan, PLAN, DocKind::Plan).unwrap();
    doc.commit();
}

fn pick<T: Clone>(items: impl Iterator<Item = T>, i: usize) -> Option<T> {
    let items: Vec<T> = items.collect();
    if items.is_empty() {
        None
    } else {
        Some(items[i % items.len()].clone())
    }
}

fn apply(replicas: &mut [Replica], who: usize, n: usize, op: &Op) {
    let id = format!("r{who}-{n}");
    if let Op::Merge { from } = op {
        if *from != who {
            let (a, b) = two(replicas, who, *from);
            a.plan.merge(&mut b.plan).unwrap();
            for (x, y) in a.contacts.iter_mut().zip(b.contacts.iter_mut()) {
                x.merge(y).unwrap();
            }
        }
        return;
    }
    let r = &mut replicas[who];
    if let Op::LogContact {
        result,
        support,
        note,
        consent_name,
    } = op
    {
        let mut new = NewContact::new(ContactResult::ALL[result % ContactResult::ALL.len()]);
        new.support = *support;
        new.note = note.clone();
        if let Some(name) = consent_name {
            new.consent = true;
            new.name = Some(name.clone());
            new.interests = vec![Interest::Host];
        }
        let contact = Contact::new(&id, &r.name, new, n as i64).unwrap();
        let doc = &mut r.contacts[who];
        insert_contact(doc, &contact, "c").unwrap();
        doc.commit();
        r.logged += 1;
        return;
    }
    let device = r.name.clone();
    edit_plan(&mut r.plan, |plan| match op {
        Op::AddTarget(name) => {
            let new = NewTarget {
                name: name.clone(),
                title: "Sheriff".into(),
                ..Default::default()
            };
            plan.add_target(&id, new).unwrap();
        }
        Op::CreateMeeting { official, title } => {
            let target = pick(plan.targets.keys().cloned(), n);
            let new = NewMeeting {
                kind: if *official {
                    MeetingKind::Official
                } else {
                    MeetingKind::Organizing
                },
                title: title.clone(),
                target: if *official { target } else { None },
                at: Some(n as i64 * 1000),
                location: None,
            };
            plan.create_meeting(&id, new, n as i64).unwrap();
        }
        Op::AddAgenda { meeting, text } => {
            if let Some(m) = pick(plan.meetings.keys().cloned(), *meeting) {
                plan.add_agenda_item(&m, &id, text).unwrap();
            }
        }
        Op::AppendNotes { meeting, text } => {
            if let Some(m) = pick(plan.meetings.keys().cloned(), *meeting) {
                plan.append_notes(&m, text).unwrap();
            }
        }
        Op::SetStatus { meeting, status } => {
            if let Some(m) = pick(plan.meetings.keys().cloned(), *meeting) {
                let s = MeetingStatus::ALL[status % MeetingStatus::ALL.len()];
                plan.set_meeting_status(&m, s).unwrap();
            }
        }
        Op::AddAction(title) => {
            let new = NewAction {
                title: title.clone(),
                assignee: None,
                due: None,
            };
            plan.add_action(&id, new, n as i64).unwrap();
        }
        Op::SetDone { action, done } => {
            if let Some(a) = pick(plan.actions.keys().cloned(), *action) {
                plan.set_action_done(&a, *done).unwrap();
            }
        }
        Op::Record {
            target,
            rule,
            existing,
            position,
            conditions,
        } => {
            if let Some(t) = pick(plan.targets.keys().cloned(), *target) {
                let new = NewResponse {
                    target: t,
                    rule: RuleCode::ALL[rule % RuleCode::ALL.len()],
                    existing: ExistingPolicy::ALL[existing % ExistingPolicy::ALL.len()],
                    position: Position::ALL[position % Position::ALL.len()],
                    conditions: conditions.clone(),
                    legal_basis: None,
                    meeting: None,
                };
                plan.record_response(new, &device, n as i64).unwrap();
            }
        }
        Op::LogContact { .. } | Op::Merge { .. } => unreachable!("handled above"),
    });
}

fn two(replicas: &mut [Replica], a: usize, b: usize) -> (&mut Replica, &mut Replica) {
    if a < b {
        let (x, y) = replicas.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = replicas.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

/// The group as the first device creates it, forked to every device (each fork gets its own
/// automerge actor, as separate devices do).
fn replicas(n: usize) -> Vec<Replica> {
    let mut plan = schema::new_doc();
    let mut value = Plan::new("g", "Group", None, "r0", 0).unwrap();
    value
        .add_target(
            "t0",
            NewTarget {
                name: "First".into(),
                title: "Chief".into(),
                ..Default::default()
            },
        )
        .unwrap();
    value
        .create_meeting(
            "m0",
            NewMeeting {
                kind: MeetingKind::Organizing,
                title: "Kickoff".into(),
                target: None,
                at: None,
                location: None,
            },
            0,
        )
        .unwrap();
    schema::reconcile(&mut plan, &value, PLAN, DocKind::Plan).unwrap();
    plan.commit();
    let mut contacts: Vec<AutoCommit> = (0..n)
        .map(|i| {
            let mut doc = schema::new_doc();
            let v = ContactsDoc::new("g", &format!("r{i}"), "2026-11");
            schema::reconcile(&mut doc, &v, "c", DocKind::Contacts).unwrap();
            doc.commit();
            doc
        })
        .collect();
    (0..n)
        .map(|i| Replica {
            name: format!("r{i}"),
            plan: plan.fork(),
            contacts: contacts.iter_mut().map(|c| c.fork()).collect(),
            logged: 0,
        })
        .collect()
}

fn scenario() -> impl Strategy<Value = (usize, Vec<(usize, Op)>, Vec<usize>)> {
    (2usize..=5).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec((0..n, op(n)), 1..60),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_merge_order((n, ops, order) in scenario()) {
        let mut rs = replicas(n);
        for (i, (who, op)) in ops.iter().enumerate() {
            apply(&mut rs, *who, i, op);
        }
        // Everyone hears from everyone, in a random order: two rounds carry every change
        // everywhere.
        for _ in 0..2 {
            for &a in &order {
                for &b in &order {
                    apply(&mut rs, a, usize::MAX, &Op::Merge { from: b });
                }
            }
        }
        let plan0: Plan = schema::hydrate(&rs[0].plan, PLAN, DocKind::Plan).unwrap();
        let heads0 = rs[0].plan.get_heads();
        let contacts0: Vec<ContactsDoc> = rs[0].contacts.iter()
            .map(|d| schema::hydrate(d, "c", DocKind::Contacts).unwrap())
            .collect();
        for r in rs.iter_mut() {
            prop_assert_eq!(r.plan.get_heads(), heads0.clone());
            let plan: Plan = schema::hydrate(&r.plan, PLAN, DocKind::Plan).unwrap();
            prop_assert_eq!(&plan, &plan0);
            for (doc, expected) in r.contacts.iter().zip(&contacts0) {
                let got: ContactsDoc = schema::hydrate(doc, "c", DocKind::Contacts).unwrap();
                prop_assert_eq!(&got, expected);
            }
        }
        // Nothing lost: every contact each device logged, every target and action added.
        for (i, r) in rs.iter().enumerate() {
            prop_assert_eq!(contacts0[i].contacts.len(), r.logged);
        }
        for (i, (who, op)) in ops.iter().enumerate() {
            let id = format!("r{who}-{i}");
            match op {
                Op::AddTarget(_) => prop_assert!(plan0.targets.contains_key(&id)),
                Op::AddAction(_) => prop_assert!(plan0.actions.contains_key(&id)),
                Op::AddAgenda { .. } => {
                    let found = plan0.meetings.values().any(|m| m.agenda.iter().any(|a| a.id == id));
                    prop_assert!(found, "agenda item {} lost", id);
                }
                Op::AppendNotes { text, .. } => {
                    let found = plan0.meetings.values().any(|m| m.notes.as_str().contains(text.trim()));
                    prop_assert!(found, "notes {:?} lost", text);
                }
                _ => {}
            }
        }
    }
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z0-9 é]{0,12}")
}

fn vocab<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    (0..all.len()).prop_map(move |i| all[i])
}

fn arb_meeting() -> impl Strategy<Value = Meeting> {
    (
        "[a-z]{4}",
        vocab(MeetingKind::ALL),
        "[a-z ]{1,10}",
        opt_text(),
        proptest::option::of(any::<i64>()),
        opt_text(),
        proptest::collection::btree_map("[a-z]{1,6}", "[a-z]{1,6}", 0..3),
        proptest::collection::vec(("[a-z]{5}", "[a-z ]{1,9}"), 0..4),
        vocab(MeetingStatus::ALL),
        "[a-zé\n ]{0,20}",
        vocab(Visibility::ALL),
    )
        .prop_map(
            |(id, kind, title, target, at, location, roles, agenda, status, notes, visibility)| {
                Meeting {
                    id,
                    kind,
                    title,
                    target,
                    at,
                    zone: at.map(|_| "America/Chicago".into()),
                    location: location.clone(),
                    host: location,
                    roles,
                    agenda: agenda
                        .into_iter()
                        .map(|(id, text)| AgendaItem { id, text })
                        .collect(),
                    attendees: vec!["someone".into()],
                    status,
                    canvassers: at.is_some_and(|t| t % 2 == 0),
                    visibility,
                    joins: None,
                    notes: Text::with_value(notes),
                    created_at: 7,
                }
            },
        )
}

fn arb_plan() -> impl Strategy<Value = Plan> {
    (
        "[a-z ]{1,10}",
        opt_text(),
        proptest::collection::vec(
            ("[a-z]{4}", "[a-z ]{1,8}", opt_text(), vocab(Level::ALL)),
            0..4,
        ),
        proptest::collection::vec(arb_meeting(), 0..3),
        proptest::collection::vec(("[a-z]{4}", opt_text(), any::<bool>()), 0..3),
        proptest::collection::vec(
            (
                vocab(RuleCode::ALL),
                vocab(ExistingPolicy::ALL),
                vocab(Position::ALL),
                opt_text(),
            ),
            0..4,
        ),
    )
        .prop_map(
            |(name, jurisdiction, targets, meetings, actions, responses)| Plan {
                schema: 1,
                group_id: "g".into(),
                profile: Profile {
                    shares: jurisdiction.is_none(),
                    name,
                    jurisdiction,
                    created_by: "d".into(),
                    created_by_name: Some("Device d".into()),
                    created_at: -5,
                    retention_months: Some(12),
                    zone: Some("America/Phoenix".into()),
                },
                targets: targets
                    .into_iter()
                    .map(|(id, name, agency, level)| {
                        (
                            id.clone(),
                            Target {
                                id,
                                name,
                                title: "t".into(),
                                agency,
                                jurisdiction: None,
                                county: level_is_county(level).then(|| "48453".into()),
                                office: level_is_county(level).then_some(Office::Sheriff),
                                place: None,
                                level,
                            },
                        )
                    })
                    .collect(),
                meetings: meetings.into_iter().map(|m| (m.id.clone(), m)).collect(),
                actions: actions
                    .into_iter()
                    .map(|(id, assignee, done)| {
                        (
                            id.clone(),
                            ActionItem {
                                id,
                                title: "a".into(),
                                assignee,
                                due: Some("2026-01-01".into()),
                                done,
                                created_at: 1,
                            },
                        )
                    })
                    .collect(),
                responses: responses
                    .into_iter()
                    .map(|(rule, existing, position, conditions)| {
                        (
                            format!("t/{rule}"),
                            RuleResponse {
                                target: "t".into(),
                                rule,
                                existing,
                                position,
                                conditions,
                                legal_basis: None,
                                meeting: Some("m".into()),
                                recorded_by: "d".into(),
                                recorded_at: 3,
                            },
                        )
                    })
                    .collect(),
            },
        )
}

fn arb_contacts() -> impl Strategy<Value = ContactsDoc> {
    proptest::collection::vec(
        (
            "[a-z]{6}",
            any::<i64>(),
            opt_text(),
            vocab(ContactResult::ALL),
            proptest::option::of(1u8..=5),
            proptest::collection::vec(vocab(Interest::ALL), 0..3),
            any::<bool>(),
            opt_text(),
            proptest::option::of((opt_text(), opt_text(), opt_text(), any::<i64>())),
        ),
        0..6,
    )
    .prop_map(|contacts| ContactsDoc {
        schema: 1,
        group_id: "g".into(),
        canvasser: "d".into(),
        period: "2026-11".into(),
        contacts: contacts
            .into_iter()
            .map(
                |(id, at, place, result, support, interests, follow_up, note, person)| {
                    let person = person.map(|(name, phone, email, consent_at)| Person {
                        name,
                        phone,
                        email,
                        consent_at,
                    });
                    (
                        id.clone(),
                        Contact {
                            id,
                            at,
                            canvasser: "d".into(),
                            place,
                            result,
                            support,
                            interests,
                            follow_up,
                            note,
                            person,
                        },
                    )
                },
            )
            .collect::<BTreeMap<_, _>>(),
    })
}

proptest! {
    #[test]
    fn a_plan_survives_reconcile_then_hydrate(plan in arb_plan()) {
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &plan, PLAN, DocKind::Plan).unwrap();
        let back: Plan = schema::hydrate(&doc, PLAN, DocKind::Plan).unwrap();
        prop_assert_eq!(back, plan.clone());
        // And through the bytes a device stores.
        let loaded = AutoCommit::load(&doc.save()).unwrap();
        let back: Plan = schema::hydrate(&loaded, PLAN, DocKind::Plan).unwrap();
        prop_assert_eq!(back, plan);
    }

    #[test]
    fn contacts_survive_reconcile_then_hydrate(contacts in arb_contacts()) {
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &contacts, "c", DocKind::Contacts).unwrap();
        let back: ContactsDoc = schema::hydrate(&doc, "c", DocKind::Contacts).unwrap();
        prop_assert_eq!(back, contacts);
    }

    #[test]
    fn contacts_survive_insert_then_hydrate(contacts in arb_contacts()) {
        let mut doc = schema::new_doc();
        let empty = ContactsDoc { contacts: BTreeMap::new(), ..contacts.clone() };
        schema::reconcile(&mut doc, &empty, "c", DocKind::Contacts).unwrap();
        for contact in contacts.contacts.values() {
            insert_contact(&mut doc, contact, "c").unwrap();
        }
        let back: ContactsDoc = schema::hydrate(&doc, "c", DocKind::Contacts).unwrap();
        prop_assert_eq!(back, contacts);
    }
}

/// Some generated targets name a county and office (as targets since codes do), some do not.
fn level_is_county(level: Level) -> bool {
    level == Level::County
}
