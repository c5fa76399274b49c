//! The relay's access policy under any sequence of access changes, connections and times (the
//! bytes choose each step from small sets of groups, devices, documents and counties, so that
//! they meet): it never panics, and what it answers holds together.
//!
//! - A document is in `readable(conn)` exactly when `access(conn, doc)` reads, and `conn` is
//!   among `readers(doc)` exactly then too.
//! - Nobody anonymous reads anything; a canvasser never reads a plan or a roster; a device
//!   removed from a group reads none of its documents.
//! - Whatever is not writable has a reason (`why_not` answers, and not with an empty string).
#![no_main]

use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::sync::hub::{Access, ConnId, Policy};
use groundwork_relay::access::{AccessChange, AccessRows, Principal, RelayAccess};
use libfuzzer_sys::fuzz_target;

const GROUPS: u8 = 3;
const DEVICES: u8 = 6;
const DOCS: u8 = 10;
const COUNTIES: [&str; 2] = ["06065", "48453"];
const KINDS: [DocKind; 5] = [
    DocKind::Plan,
    DocKind::Contacts,
    DocKind::Roster,
    DocKind::Brief,
    DocKind::Board,
];

fn doc(n: u8) -> DocumentId {
    DocumentId::from([n % DOCS + 1; 16])
}

fn group(n: u8) -> String {
    doc(100 + n % GROUPS).to_string()
}

fn device(n: u8) -> String {
    format!("device-{}", n % DEVICES)
}

fuzz_target!(|data: &[u8]| {
    let mut policy = RelayAccess::from_rows(AccessRows::default(), None);
    let mut bytes = data.chunks_exact(4);
    let mut next_conn: ConnId = 0;
    let mut groups_made = Vec::new();
    for step in bytes.by_ref() {
        let [op, a, b, c] = [step[0], step[1], step[2], step[3]];
        let role = [Role::Lead, Role::Member, Role::Canvasser][usize::from(c % 3)];
        let change = match op % 16 {
            0 => {
                groups_made.push(group(a));
                AccessChange::Group {
                    group: group(a),
                    roster: doc(b),
                    created_by: device(c),
                    at: 1,
                }
            }
            1..=3 => AccessChange::Member {
                group: group(a),
                device: device(b),
                role,
                name: "n".into(),
                person: device(b),
                at: i64::from(c),
            },
            4 => AccessChange::Removed {
                group: group(a),
                device: device(b),
                at: i64::from(c),
            },
            5 => AccessChange::Wiped {
                group: group(a),
                device: device(b),
                at: i64::from(c),
            },
            6..=8 => AccessChange::Document {
                doc: doc(b),
                group: group(a),
                kind: KINDS[usize::from(c) % KINDS.len()],
                owner: (c % 2 == 0).then(|| device(c / 2)),
            },
            9 => AccessChange::Board {
                county: COUNTIES[usize::from(a % 2)].into(),
                doc: doc(b),
                at: 1,
            },
            10 => AccessChange::Counties {
                group: group(a),
                counties: COUNTIES[..usize::from(b % 3)]
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
            },
            11 => AccessChange::Follow {
                device: device(a),
                county: COUNTIES[usize::from(b % 2)].into(),
                follow: c % 2 == 0,
                at: 1,
            },
            12 => AccessChange::Dropped { doc: doc(b) },
            13 => {
                // A group's rows read from the store (as a member connects), not a live change.
                policy.admit(AccessRows {
                    known: vec![doc(b)],
                    staff: Vec::new(),
                    changes: vec![
                        AccessChange::Group {
                            group: group(a),
                            roster: doc(b),
                            created_by: device(c),
                            at: 1,
                        },
                        AccessChange::Member {
                            group: group(a),
                            device: device(c),
                            role,
                            name: "n".into(),
                            person: device(c),
                            at: 1,
                        },
                    ],
                    unreadable: 0,
                });
                continue;
            }
            14 => {
                let principal = match b % 4 {
                    0 => Principal::Anonymous,
                    1 => Principal::Token {
                        device: device(a),
                        group: group(c),
                        expires_at: i64::MAX,
                    },
                    _ => Principal::Device(device(a)),
                };
                policy.connect(next_conn, principal);
                next_conn += 1;
                continue;
            }
            _ => {
                policy.set_time(i64::from(a) * 1_000_000_000);
                policy.disconnect(ConnId::from(b % 8));
                continue;
            }
        };
        policy.apply(&change);
    }
    let docs: Vec<DocumentId> = (0..DOCS).map(doc).collect();
    for conn in 0..next_conn {
        let readable = policy.readable(conn);
        let principal = policy.principal(conn).cloned();
        for d in &docs {
            let access = policy.access(conn, d);
            assert_eq!(
                readable.contains(d),
                access.reads(),
                "readable() and access() disagree"
            );
            assert_eq!(
                policy.readers(d).contains(&conn),
                access.reads(),
                "readers() and access() disagree"
            );
            if access != Access::Write {
                assert!(!policy.why_not(conn, d, access).0.is_empty());
            }
            if !access.reads() {
                continue;
            }
            match &principal {
                None | Some(Principal::Anonymous) => panic!("an anonymous peer reads"),
                Some(p) => {
                    let me = p.device().unwrap_or_default();
                    // (A board is read by its county's readers, not by a group's members.)
                    if let Some((g, kind)) = policy.doc_kind(d).filter(|_| !policy.is_board(d)) {
                        let role = policy.role(g, me);
                        assert!(
                            !(role == Some(Role::Canvasser)
                                && matches!(kind, DocKind::Plan | DocKind::Roster)),
                            "a canvasser reads a {kind:?}"
                        );
                        assert!(
                            role.is_some(),
                            "a device that is no member reads a {kind:?} of the group"
                        );
                    }
                }
            }
        }
    }
});
