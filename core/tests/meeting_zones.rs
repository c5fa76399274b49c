//! Meetings' time zones on the device: a meeting takes its official's county's zone, else the
//! group's; a lead moves it to another; the index lists each meeting with its zone, and index
//! rows written before zones (no zone column yet) read as the zone the meeting has.

use groundwork_core::Device;
use groundwork_core::schema::plan::{NewMeeting, NewTarget};
use groundwork_core::schema::vocab::{MeetingKind, Office};
use groundwork_core::store::{STORE_FILE, StoreKey};
use groundwork_core::time::{format_local, format_rfc3339, parse_local};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn key() -> StoreKey {
    StoreKey::from_bytes([9; 32])
}

fn meeting(kind: MeetingKind, target: Option<&str>, at: Option<i64>) -> NewMeeting {
    NewMeeting {
        kind,
        title: "Ask".into(),
        target: target.map(Into::into),
        at,
        location: None,
    }
}

#[test]
fn meetings_are_listed_in_their_zones_old_index_rows_too() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut device = Device::init(dir.path(), "Lead", &key())?;
    let group = device.create_group("Valley Voices", Some("Maricopa County, AZ".into()))?;
    let yolo = device.add_target(
        &group,
        NewTarget {
            county: Some("06113".into()),
            office: Some(Office::Sheriff),
            ..NewTarget::default()
        },
    )?;
    let at = parse_local("2026-12-15T18:30", Some("America/Los_Angeles"))?;
    let official = device.create_meeting(
        &group,
        meeting(MeetingKind::Official, Some(&yolo), Some(at)),
    )?;
    // The group's own meeting is in its jurisdiction's zone: 18:30 there.
    let at_home = parse_local("2026-12-15T18:30", Some("America/Phoenix"))?;
    let own = device.create_meeting(
        &group,
        meeting(MeetingKind::Organizing, None, Some(at_home)),
    )?;
    let zones = |device: &Device| -> Result<Vec<(String, Option<String>)>, groundwork_core::Error> {
        let mut rows: Vec<_> = device
            .meetings(&group)?
            .into_iter()
            .map(|m| (m.meeting_id, m.zone))
            .collect();
        rows.sort();
        Ok(rows)
    };
    let mut expected = vec![
        (official.clone(), Some("America/Los_Angeles".to_owned())),
        (own.clone(), Some("America/Phoenix".to_owned())),
    ];
    expected.sort();
    assert_eq!(zones(&device)?, expected);

    // Rows written before the column have none: they read as the meeting's default zone.
    let conn = groundwork_core::store::connect_raw(&dir.path().join(STORE_FILE), &key())?;
    assert_eq!(conn.execute("UPDATE idx_meetings SET zone = NULL", [])?, 2);
    assert_eq!(zones(&device)?, expected);

    // A lead moves the group's meeting to another zone: the clock time stays 18:30.
    let moved = device.set_meeting_time(&own, None, Some("America/New_York"))?;
    assert_eq!(
        moved.at.map(|at| format_local(at, moved.zone.as_deref())),
        Some("Tue 15 Dec 2026, 18:30 EST".into())
    );
    let listed = device.meetings(&group)?;
    let row = listed
        .iter()
        .find(|m| m.meeting_id == own)
        .ok_or("no meeting")?;
    assert_eq!(row.zone.as_deref(), Some("America/New_York"));
    assert_eq!(
        row.at.map(format_rfc3339).as_deref(),
        Some("2026-12-15T23:30:00Z")
    );
    // `meeting` reads the zone it has, from the plan.
    assert_eq!(
        device.meeting(&official)?.zone.as_deref(),
        Some("America/Los_Angeles")
    );

    // The group's zone, for meetings with no county, is a lead's to change.
    device.set_group_zone(&group, Some("America/Denver"))?;
    let later = device.create_meeting(&group, meeting(MeetingKind::Organizing, None, None))?;
    assert_eq!(
        device.meeting(&later)?.zone.as_deref(),
        Some("America/Denver")
    );
    Ok(())
}
