//! The campaign index's cost per plan change, at campaign scale: 1,000 sharing groups asking
//! 3,000 officials (three each: a sheriff, a police chief, a mayor), every group with answers on all ten
//! rules for each official and a meeting per official. One plan change costs what the relay
//! does for it: hydrate the group's plan from its automerge document, derive what it shares
//! (`Shared::of`) and replace its rows in one transaction. Staff queries (every official; one
//! official's page), the boards (their size; building one) and the dashboard's pages (the
//! matrix and the county map, rendered, with their weight) are measured beside it.

// Benchmarks are binaries: a failed setup should stop them loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use groundwork_core::campaign::{OfficialFilter, Shared};
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::plan::{NewMeeting, NewResponse, NewTarget, Plan};
use groundwork_core::schema::vocab::{ExistingPolicy, MeetingKind, Office, Position};
use groundwork_core::schema::{self, DocKind};
use groundwork_relay::campaign;
use groundwork_relay::store::{RelayStore, Write};

const GROUPS: usize = 1_000;
const OFFICIALS_PER_GROUP: usize = 3;

/// A group's plan: three officials (counties shared with neighbouring groups), an answer per
/// rule for each, and a meeting with each.
fn plan(g: usize) -> Plan {
    let mut p = Plan::new(
        &format!("group-{g:04}"),
        &format!("Group {g}"),
        None,
        "lead",
        0,
    )
    .unwrap();
    let counties: Vec<&str> = groundwork_core::places::counties()
        .iter()
        .map(|c| c.fips)
        .take(GROUPS)
        .collect();
    for t in 0..OFFICIALS_PER_GROUP {
        let county = counties[g % counties.len()];
        let office = [Office::Sheriff, Office::PoliceChief, Office::Mayor][t];
        let id = format!("t{t}");
        p.add_target(
            &id,
            NewTarget {
                county: Some(county.into()),
                office: Some(office),
                place: (office != Office::Sheriff).then(|| format!("City {g}")),
                ..NewTarget::default()
            },
        )
        .unwrap();
        for (r, rule) in RuleCode::ALL.iter().enumerate() {
            p.record_response(
                NewResponse {
                    target: id.clone(),
                    rule: *rule,
                    existing: ExistingPolicy::ALL[r % ExistingPolicy::ALL.len()],
                    position: Position::ALL[(g + r) % Position::ALL.len()],
                    conditions: (r % 3 == 0).then(|| "would sign if 'shall' read 'should'".into()),
                    legal_basis: None,
                    meeting: None,
                },
                "lead",
                (g * 100 + r) as i64,
            )
            .unwrap();
        }
        p.create_meeting(
            &format!("m{t}"),
            NewMeeting {
                kind: MeetingKind::Official,
                title: "Ask".into(),
                target: Some(id),
                at: Some(1_800_000_000_000 + g as i64),
                location: Some("County building".into()),
            },
            1,
        )
        .unwrap();
        p.append_notes(
            &format!("m{t}"),
            "Notes the group keeps to itself, a paragraph long.",
        )
        .unwrap();
    }
    p
}

fn index(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = RelayStore::open(
        dir.path(),
        &groundwork_core::store::StoreKey::generate().unwrap(),
    )
    .unwrap();
    let writes: Vec<Write> = (0..GROUPS)
        .map(|g| Write::Campaign {
            group: format!("group-{g:04}"),
            shared: Shared::of(&plan(g)).map(Box::new),
            at: 0,
        })
        .collect();
    store.commit(&writes).unwrap();
    let officials = store
        .campaign(|c| campaign::officials(c, &OfficialFilter::default()))
        .unwrap();
    eprintln!(
        "campaign index: {GROUPS} groups, {} distinct officials, {} answers",
        officials.len(),
        store
            .campaign(|c| c
                .query_opt("SELECT COUNT(*) FROM campaign_answers", &[])?
                .map_or(Ok(0), |r| r.get::<i64>(0)))
            .unwrap()
    );

    // One group's plan as the relay holds it: an automerge document.
    let group = 500;
    let mut doc = schema::new_doc();
    schema::reconcile(
        &mut doc,
        &plan(group),
        &format!("group-{group:04}"),
        DocKind::Plan,
    )
    .unwrap();
    let id = format!("group-{group:04}");
    c.bench_function("index_update_per_plan_change_1000_groups", |b| {
        b.iter(|| {
            let shared = Shared::of_doc(&doc, &id).unwrap().map(Box::new);
            store
                .commit(&[Write::Campaign {
                    group: id.clone(),
                    shared,
                    at: 1,
                }])
                .unwrap();
        })
    });
    c.bench_function("derive_shared_from_a_plan_document", |b| {
        b.iter(|| Shared::of_doc(&doc, &id).unwrap())
    });
    c.bench_function("hydrate_the_whole_plan_for_comparison", |b| {
        b.iter(|| Shared::of(&schema::hydrate::<Plan>(&doc, &id, DocKind::Plan).unwrap()))
    });
    let key = officials[officials.len() / 2].key.clone();
    c.bench_function("staff_official_page", |b| {
        b.iter(|| store.campaign(|c| campaign::official(c, &key)).unwrap())
    });
    // Boards: each county's document as the relay writes it, and what building one costs.
    let mut sizes: Vec<(usize, String)> = Vec::new();
    let counties: std::collections::BTreeSet<String> =
        officials.iter().map(|o| o.county.clone()).collect();
    for county in &counties {
        let board = store.campaign(|c| campaign::board(c, county)).unwrap();
        let mut doc = schema::new_doc();
        board.write(&mut doc, "board", 0).unwrap();
        sizes.push((doc.save().len(), county.clone()));
    }
    sizes.sort();
    let total: usize = sizes.iter().map(|(n, _)| n).sum();
    eprintln!(
        "boards: {} counties, median {} bytes, largest {} bytes ({}), all {} KiB",
        sizes.len(),
        sizes[sizes.len() / 2].0,
        sizes[sizes.len() - 1].0,
        sizes[sizes.len() - 1].1,
        total / 1024
    );
    let busiest = sizes[sizes.len() - 1].1.clone();
    c.bench_function("build_a_board_from_the_index", |b| {
        b.iter(|| store.campaign(|c| campaign::board(c, &busiest)).unwrap())
    });
    let mut group = c.benchmark_group("staff_every_official");
    group.sample_size(10);
    group.bench_function("3000_officials", |b| {
        b.iter(|| {
            store
                .campaign(|c| campaign::officials(c, &OfficialFilter::default()))
                .unwrap()
        })
    });
    group.finish();
    dashboard(c, &store);
}

/// The dashboard's pages at the same scale, rendered as the relay serves them (the index
/// query and the template): the matrix's first page, the matrix sorted by support (which
/// reads every official's answers), and the county map. Criterion's medians, and a sampled
/// p50/p99 with each page's weight printed beside them.
fn dashboard(c: &mut Criterion, store: &RelayStore) {
    use groundwork_relay::web::{self, MatrixQuery};
    let matrix = |q: &MatrixQuery| {
        let chosen = web::chosen(q).unwrap();
        store
            .campaign(|c| {
                Ok(web::matrix_html(
                    c,
                    chosen,
                    web::MATRIX_HEADING.into(),
                    "/campaign/officials".into(),
                ))
            })
            .unwrap()
            .unwrap()
    };
    let map = || store.campaign(|c| Ok(web::map_html(c))).unwrap().unwrap();
    let by_support = MatrixQuery {
        sort: Some("support".into()),
        ..MatrixQuery::default()
    };
    type Render<'a> = Box<dyn Fn() -> String + 'a>;
    let pages: [(&str, Render); 3] = [
        (
            "matrix_first_page",
            Box::new(|| matrix(&MatrixQuery::default())),
        ),
        ("matrix_sorted_by_support", Box::new(|| matrix(&by_support))),
        ("county_map", Box::new(map)),
    ];
    for (name, page) in &pages {
        let mut times: Vec<std::time::Duration> = (0..200)
            .map(|_| {
                let start = std::time::Instant::now();
                std::hint::black_box(page());
                start.elapsed()
            })
            .collect();
        times.sort();
        eprintln!(
            "dashboard {name}: {} bytes, sampled p50 {:?} p99 {:?} (200 renders)",
            page().len(),
            times[100],
            times[197]
        );
    }
    let mut group = c.benchmark_group("dashboard");
    group.sample_size(30);
    for (name, page) in &pages {
        group.bench_function(*name, |b| b.iter(page));
    }
    group.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
