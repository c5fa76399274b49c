//! The documents of a sitting, made once so that every relay is given the same bytes: each
//! group's plan, and each canvasser's contacts document, written contact by contact as the app
//! writes them (one change per contact, with core's own schema code).

use automerge::{AutoCommit, ChangeHash};
use groundwork_core::identity::Identity;
use groundwork_core::ids::{DocumentId, new_entity_id};
use groundwork_core::schema::contacts::{Contact, ContactsDoc, NewContact, insert_contact};
use groundwork_core::schema::plan::{NewMeeting, Plan};
use groundwork_core::schema::vocab::{ContactResult, MeetingKind};
use groundwork_core::schema::{self, DocKind};
use groundwork_core::time::{now_ms, period_of};

/// One canvasser's device and what it logged offline.
pub struct Canvasser {
    /// Its key.
    pub who: Identity,
    /// Its contacts document.
    pub doc: DocumentId,
    /// The document, saved (automerge's compressed form).
    pub bytes: Vec<u8>,
    /// Its heads, sorted.
    pub heads: Vec<ChangeHash>,
}

/// A group: its lead, its plan, its canvassers.
pub struct Group {
    /// The lead's key.
    pub lead: Identity,
    /// The plan's id (the group's id).
    pub plan: DocumentId,
    /// The plan, saved.
    pub plan_bytes: Vec<u8>,
    /// The id of the plan's one meeting, whose notes co-editors write.
    pub meeting: String,
    /// Its canvassers.
    pub canvassers: Vec<Canvasser>,
}

/// A small deterministic generator (xorshift64*), so a sitting's contacts are the same mix
/// each time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Makes `groups` groups of `per_group` canvassers with `contacts` contacts each, on every
/// core. Nothing here comes from real people: results, support levels and a block number.
pub fn groups(groups: usize, per_group: usize, contacts: usize) -> anyhow::Result<Vec<Group>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks: Vec<Vec<usize>> = (0..threads)
        .map(|t| (0..groups).filter(|g| g % threads == t).collect())
        .collect();
    let mut made: Vec<(usize, Group)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|g| Ok((g, group(g, per_group, contacts)?)))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a generator thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<Vec<_>>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    made.sort_by_key(|(g, _)| *g);
    Ok(made.into_iter().map(|(_, g)| g).collect())
}

fn group(g: usize, per_group: usize, contacts: usize) -> anyhow::Result<Group> {
    let lead = Identity::generate()?;
    let plan_id = DocumentId::random()?;
    let group_id = plan_id.to_string();
    let now = now_ms();
    let mut plan = Plan::new(
        &group_id,
        &format!("Bench group {g}"),
        None,
        &lead.device_id(),
        now,
    )?;
    let meeting = new_entity_id()?;
    plan.create_meeting(
        &meeting,
        NewMeeting {
            kind: MeetingKind::Organizing,
            title: "Weekly meeting".into(),
            target: None,
            at: None,
            location: None,
        },
        now,
    )?;
    let mut doc = schema::new_doc();
    schema::reconcile(&mut doc, &plan, &group_id, DocKind::Plan)?;
    doc.commit();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (g as u64 + 1));
    let canvassers = (0..per_group)
        .map(|_| canvasser(&group_id, contacts, &mut rng))
        .collect::<anyhow::Result<_>>()?;
    Ok(Group {
        lead,
        plan: plan_id,
        plan_bytes: doc.save(),
        meeting,
        canvassers,
    })
}

fn canvasser(group_id: &str, contacts: usize, rng: &mut Rng) -> anyhow::Result<Canvasser> {
    let who = Identity::generate()?;
    let id = DocumentId::random()?;
    let doc_id = id.to_string();
    let device = who.device_id();
    let now = now_ms();
    let mut doc = schema::new_doc();
    let empty = ContactsDoc::new(group_id, &device, &period_of(now));
    schema::reconcile(&mut doc, &empty, &doc_id, DocKind::Contacts)?;
    doc.commit();
    let results = [
        ContactResult::Talked,
        ContactResult::NotHome,
        ContactResult::NotHome,
        ContactResult::Refused,
        ContactResult::Moved,
    ];
    for _ in 0..contacts {
        let mut new = NewContact::new(results[rng.below(results.len() as u64) as usize]);
        if new.result == ContactResult::Talked {
            new.support = Some(1 + rng.below(5) as u8);
            new.follow_up = rng.below(3) == 0;
        }
        new.place = Some(format!("Block {}", rng.below(400)));
        let contact = Contact::new(&new_entity_id()?, &device, new, now)?;
        insert_contact(&mut doc, &contact, &doc_id)?;
        doc.commit();
    }
    let mut heads = doc.get_heads();
    heads.sort();
    Ok(Canvasser {
        who,
        doc: id,
        bytes: doc.save(),
        heads,
    })
}

/// A saved document, loaded for one device.
pub fn load(bytes: &[u8]) -> anyhow::Result<AutoCommit> {
    Ok(AutoCommit::load(bytes)?)
}
