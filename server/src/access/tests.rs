//! The access rules in-process: the role matrix stated on its own, then every kind of
//! principal against every kind of document through the tables, each refusal's reason, and
//! changes and time moving the decisions. (tests/tests/access.rs and least_privilege.rs check
//! the same rules through a real relay and devices; the known documents' set is tested in
//! tables.rs.)

use super::*;

/// The matrix as the rules say it (ARCHITECTURE.md, access/mod.rs's header), written out
/// whole rather than computed: (role, kind, own document) -> access.
#[test]
fn the_role_matrix_is_the_rules() {
    use Access::{Hidden, Read, Write};
    use DocKind::{Board, Brief, Contacts, Plan, Roster};
    use Role::{Canvasser, Lead, Member};
    let expected: &[(Role, Option<DocKind>, bool, Access)] = &[
        (Lead, Some(Plan), false, Write),
        (Member, Some(Plan), false, Write),
        (Canvasser, Some(Plan), false, Hidden),
        (Lead, Some(Roster), false, Read),
        (Member, Some(Roster), false, Read),
        (Canvasser, Some(Roster), false, Hidden),
        (Lead, Some(Brief), false, Hidden),
        (Member, Some(Brief), false, Hidden),
        (Canvasser, Some(Brief), false, Read),
        (Lead, Some(Contacts), false, Read),
        (Member, Some(Contacts), false, Hidden),
        (Canvasser, Some(Contacts), false, Hidden),
        (Lead, Some(Contacts), true, Write),
        (Member, Some(Contacts), true, Write),
        (Canvasser, Some(Contacts), true, Write),
        (Lead, Some(Board), false, Hidden),
        (Canvasser, Some(Board), false, Hidden),
        (Lead, None, false, Hidden),
        (Member, None, true, Hidden),
    ];
    for &(role, kind, owner, access) in expected {
        assert_eq!(
            role_access(role, kind, owner),
            access,
            "{role} on {kind:?} (own: {owner})"
        );
    }
}

/// A group held by the tables, its documents, and the principals that meet them.
struct World {
    access: RelayAccess,
    plan: DocumentId,
    roster: DocumentId,
    brief: DocumentId,
    own_contacts: DocumentId,
    other_contacts: DocumentId,
    not_held: DocumentId,
    board: DocumentId,
    retired_board: DocumentId,
}

fn id(n: u8) -> DocumentId {
    DocumentId::from([n; 16])
}

fn world() -> World {
    let (plan, roster, brief, own, other) = (id(1), id(2), id(3), id(4), id(5));
    let (not_held, board, retired) = (id(6), id(7), id(8));
    let group = plan.to_string();
    let member = |device: &str, role| AccessChange::Member {
        group: group.clone(),
        device: device.into(),
        role,
        name: format!("{device} (test)"),
        person: device.into(),
        at: 1,
    };
    let document = |doc, kind, owner: Option<&str>| AccessChange::Document {
        doc,
        group: group.clone(),
        kind,
        owner: owner.map(str::to_owned),
    };
    let mut access = RelayAccess::from_rows(
        AccessRows {
            known: vec![not_held],
            staff: vec!["staff".into()],
            changes: vec![
                AccessChange::Group {
                    group: group.clone(),
                    roster,
                    created_by: "lead".into(),
                    at: 1,
                },
                member("lead", Role::Lead),
                member("member", Role::Member),
                member("canvasser", Role::Canvasser),
                member("other-canvasser", Role::Canvasser),
                member("removed", Role::Member),
                AccessChange::Removed {
                    group: group.clone(),
                    device: "removed".into(),
                    at: 2,
                },
                document(plan, DocKind::Plan, None),
                document(roster, DocKind::Roster, None),
                document(brief, DocKind::Brief, None),
                document(own, DocKind::Contacts, Some("canvasser")),
                document(other, DocKind::Contacts, Some("other-canvasser")),
            ],
            unreadable: 0,
        },
        None,
    );
    // The group shares an official in county 06065: its board is read by its leads, members
    // and canvassers, and staff. An older board of the county was replaced.
    access.set_boards(
        vec![("06065".into(), retired), ("06065".into(), board)],
        vec![("06065".into(), group.clone())],
    );
    let principals = [
        Principal::Device("lead".into()),
        Principal::Device("member".into()),
        Principal::Device("canvasser".into()),
        Principal::Device("removed".into()),
        Principal::Device("stranger".into()),
        Principal::Device("staff".into()),
        Principal::Token {
            device: "lead".into(),
            group: group.clone(),
            expires_at: i64::MAX,
        },
        Principal::Token {
            device: "lead".into(),
            group: "another group".into(),
            expires_at: i64::MAX,
        },
        Principal::Anonymous,
    ];
    for (conn, principal) in principals.into_iter().enumerate() {
        access.connect(conn as ConnId, principal);
    }
    World {
        access,
        plan,
        roster,
        brief,
        own_contacts: own,
        other_contacts: other,
        not_held,
        board,
        retired_board: retired,
    }
}

/// Every principal against every kind of document, through the tables: the access, and for
/// anything short of writing, the rule the log gives.
#[test]
fn every_principal_meets_every_document_as_the_rules_say() {
    use Access::{Hidden, Read, Unknown, Write};
    let w = world();
    let new = id(99);
    let docs = [
        ("plan", w.plan),
        ("roster", w.roster),
        ("brief", w.brief),
        ("own contacts", w.own_contacts),
        ("other contacts", w.other_contacts),
        ("not held", w.not_held),
        ("board", w.board),
        ("retired board", w.retired_board),
        ("new", new),
    ];
    // Columns in the order of `docs`.
    let expected: &[(&str, [Access; 9])] = &[
        (
            "lead",
            [
                Write, Read, Hidden, Read, Read, Hidden, Read, Hidden, Unknown,
            ],
        ),
        (
            "member",
            [
                Write, Read, Hidden, Hidden, Hidden, Hidden, Read, Hidden, Unknown,
            ],
        ),
        (
            "canvasser",
            [
                Hidden, Hidden, Read, Write, Hidden, Hidden, Hidden, Hidden, Unknown,
            ],
        ),
        (
            "removed",
            [
                Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Unknown,
            ],
        ),
        (
            "stranger",
            [
                Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Unknown,
            ],
        ),
        (
            "staff",
            [
                Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Read, Hidden, Unknown,
            ],
        ),
        (
            "token in its group",
            [
                Write, Read, Hidden, Read, Read, Hidden, Read, Hidden, Unknown,
            ],
        ),
        (
            "token of another group",
            [
                Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Unknown,
            ],
        ),
        (
            "anonymous",
            [
                Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden, Hidden,
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (conn, (who, row)) in expected.iter().enumerate() {
        for ((what, doc), want) in docs.iter().zip(row) {
            let got = w.access.access(conn as ConnId, doc);
            if got != *want {
                wrong.push(format!("{who} on {what}: {got:?}, the rules say {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A connection the policy never saw reads nothing.
    assert_eq!(w.access.access(1000, &w.plan), Hidden);
}

/// Each refusal's reason names the rule that refused, as the relay logs it.
#[test]
fn a_refusal_names_its_rule() {
    let w = world();
    let why = |conn: ConnId, doc: &DocumentId| {
        let access = w.access.access(conn, doc);
        assert_ne!(access, Access::Write, "conn {conn} writes {doc}");
        w.access.why_not(conn, doc, access).0
    };
    let (lead, member, canvasser, removed, stranger, _staff, _token, other_token, anonymous) =
        (0, 1, 2, 3, 4, 5, 6, 7, 8);
    let cases = [
        (why(lead, &w.roster), "only the relay writes"),
        (
            why(lead, &w.brief),
            "a lead does not read the canvassers' brief",
        ),
        (why(lead, &w.own_contacts), "leads read them"),
        (
            why(member, &w.other_contacts),
            "another canvasser's contacts",
        ),
        (why(canvasser, &w.plan), "a canvasser may not see the plan"),
        (
            why(canvasser, &w.roster),
            "a canvasser may not see the roster",
        ),
        (why(canvasser, &w.brief), "only the relay writes"),
        (why(member, &w.board), "a change to a board"),
        // Canvassers' phones hold their group's brief, not its boards.
        (why(canvasser, &w.board), "share nothing in"),
        (why(removed, &w.plan), "removed from the group"),
        (why(stranger, &w.plan), "not a member of the group"),
        (why(stranger, &w.board), "share nothing in"),
        (why(lead, &w.not_held), "not a member of the group"),
        (why(lead, &w.retired_board), "replaced with a fresh one"),
        (why(other_token, &w.plan), "a token for another group"),
        (why(anonymous, &w.plan), "an unauthenticated connection"),
        (why(anonymous, &id(99)), "does not know"),
        (why(1000, &w.plan), "an unauthenticated connection"),
    ];
    for (said, rule) in cases {
        assert!(said.contains(rule), "{said:?} does not say {rule:?}");
    }
}

/// Removal, re-admission and a new contacts period change what the tables decide, through the
/// same `apply` every node uses; and time is the host's: retention counts from `set_time`.
#[test]
fn access_changes_and_time_move_the_decisions() {
    let mut w = world();
    let group = w.plan.to_string();
    let (member, canvasser) = (1, 2);
    w.access.apply(&AccessChange::Removed {
        group: group.clone(),
        device: "member".into(),
        at: 10,
    });
    assert_eq!(w.access.access(member, &w.plan), Access::Hidden);
    assert_eq!(w.access.wipes_owed("member"), vec![group.clone()]);
    w.access.apply(&AccessChange::Member {
        group: group.clone(),
        device: "member".into(),
        role: Role::Lead,
        name: "member (test)".into(),
        person: "member".into(),
        at: 11,
    });
    assert_eq!(w.access.access(member, &w.plan), Access::Write);
    assert_eq!(w.access.access(member, &w.own_contacts), Access::Read);

    // Contacts of 2026-01 in a group keeping 3 months: kept in March, erased in June.
    w.access.apply(&AccessChange::Period {
        doc: w.own_contacts,
        period: "2026-01".into(),
    });
    w.access.set_retention(&group, Some(3));
    let march = groundwork_core::time::parse_rfc3339("2026-03-15T12:00:00Z").unwrap_or(0);
    let june = groundwork_core::time::parse_rfc3339("2026-06-15T12:00:00Z").unwrap_or(0);
    assert!(march > 0 && june > march);
    w.access.set_time(march);
    assert!(w.access.expired_contacts().is_empty());
    w.access.set_time(june);
    assert_eq!(w.access.expired_contacts(), vec![w.own_contacts]);
    w.access.apply(&AccessChange::Dropped {
        doc: w.own_contacts,
    });
    assert_eq!(
        w.access.access(canvasser, &w.own_contacts),
        Access::Unknown,
        "an erased document is unknown again"
    );
    // A change is stamped with the host's time, not a clock of the policy's own.
    let AccessChange::Creator { .. } = w.access.add_creator("lead") else {
        unreachable!()
    };
    w.access.set_time(42);
    match w.access.remove_member(&group, "canvasser") {
        AccessChange::Removed { at, .. } => assert_eq!(at, 42),
        other => panic!("{other:?}"),
    }
}
