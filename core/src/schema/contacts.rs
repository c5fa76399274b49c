//! The contacts document: one per canvasser and period (a calendar month, UTC), written by its
//! canvasser alone and read by leads. Periods exist so that retention can drop whole documents:
//! a deletion inside a CRDT keeps the data in its history, dropping the document erases it.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use autosurgeon::{Hydrate, Reconcile};

use crate::error::{Error, Result};
use crate::schema::vocab::{ContactResult, Interest};
use crate::schema::{DocKind, SCHEMA_VERSION};

/// One canvasser's contacts for one period.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct ContactsDoc {
    /// The schema version that wrote this document.
    #[autosurgeon(hydrate = "crate::schema::lenient::uint_or_int")]
    pub schema: u64,
    /// The group the contacts were made for.
    pub group_id: String,
    /// The canvasser (device) who writes this document.
    pub canvasser: String,
    /// The period, as `YYYY-MM`.
    pub period: String,
    /// The contacts, by id.
    pub contacts: BTreeMap<String, Contact>,
}

/// One knock on one door.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Contact {
    /// Its id in [`ContactsDoc::contacts`].
    pub id: String,
    /// When it was logged (Unix milliseconds).
    pub at: i64,
    /// The canvasser (device) who logged it.
    pub canvasser: String,
    /// A turf name or address.
    #[autosurgeon(missing = "Default::default")]
    pub place: Option<String>,
    /// What happened at the door.
    pub result: ContactResult,
    /// Support for the campaign, 1 (against) to 5 (strongly for).
    #[autosurgeon(hydrate = "crate::schema::lenient::opt_uint_or_int")]
    pub support: Option<u8>,
    /// What the person would like to do next.
    #[autosurgeon(missing = "Default::default")]
    pub interests: Vec<Interest>,
    /// Whether someone should follow up.
    #[autosurgeon(missing = "Default::default")]
    pub follow_up: bool,
    /// Free text from the canvasser.
    #[autosurgeon(missing = "Default::default")]
    pub note: Option<String>,
    /// Personal details, present only with the person's recorded consent.
    #[autosurgeon(missing = "Default::default")]
    pub person: Option<Person>,
}

/// Personal details that a contacted person agreed to share.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Person {
    /// Their name.
    #[autosurgeon(missing = "Default::default")]
    pub name: Option<String>,
    /// Their phone number.
    #[autosurgeon(missing = "Default::default")]
    pub phone: Option<String>,
    /// Their email address.
    #[autosurgeon(missing = "Default::default")]
    pub email: Option<String>,
    /// When they gave consent (Unix milliseconds).
    pub consent_at: i64,
}

/// A contact as a canvasser logs it.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    /// What happened at the door.
    pub result: ContactResult,
    /// Support, 1 to 5.
    #[serde(default)]
    pub support: Option<u8>,
    /// A turf name or address.
    #[serde(default)]
    pub place: Option<String>,
    /// What the person would like to do next.
    #[serde(default)]
    pub interests: Vec<Interest>,
    /// Whether someone should follow up.
    #[serde(default)]
    pub follow_up: bool,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// Whether the person consented to their details being recorded.
    #[serde(default)]
    pub consent: bool,
    /// Their name (needs consent).
    #[serde(default)]
    pub name: Option<String>,
    /// Their phone (needs consent).
    #[serde(default)]
    pub phone: Option<String>,
    /// Their email (needs consent).
    #[serde(default)]
    pub email: Option<String>,
    /// When it happened (Unix ms), for a contact typed in later from paper; `None`: now. It
    /// goes in the contacts document of that month.
    #[serde(default)]
    pub at: Option<i64>,
}

impl NewContact {
    /// A contact with only a result.
    pub fn new(result: ContactResult) -> Self {
        Self {
            result,
            support: None,
            place: None,
            interests: Vec::new(),
            follow_up: false,
            note: None,
            consent: false,
            name: None,
            phone: None,
            email: None,
            at: None,
        }
    }
}

impl ContactsDoc {
    /// An empty contacts document.
    pub fn new(group_id: &str, canvasser: &str, period: &str) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            group_id: group_id.to_owned(),
            canvasser: canvasser.to_owned(),
            period: period.to_owned(),
            contacts: BTreeMap::new(),
        }
    }
}

impl Contact {
    /// Checks a logged contact and builds it. Personal details without consent are refused, and
    /// nothing about the person is kept when consent is given without any details.
    pub fn new(id: &str, canvasser: &str, new: NewContact, now: i64) -> Result<Self> {
        if let Some(support) = new.support
            && !(1..=5).contains(&support)
        {
            return Err(Error::Invalid {
                what: "support level",
                reason: format!("{support} is outside 1 to 5"),
            });
        }
        let name = clean(new.name);
        let phone = clean(new.phone);
        let email = clean(new.email);
        let has_details = name.is_some() || phone.is_some() || email.is_some();
        if has_details && !new.consent {
            return Err(Error::ConsentRequired);
        }
        if let Some(email) = &email
            && !email.contains('@')
        {
            return Err(Error::Invalid {
                what: "email",
                reason: "an email address needs an '@'".into(),
            });
        }
        // A minute of clock skew is tolerated; a contact from the future is a typo.
        if let Some(at) = new.at
            && at > now + 60_000
        {
            return Err(Error::Invalid {
                what: "contact time",
                reason: "it is in the future".into(),
            });
        }
        let mut interests = new.interests;
        interests.sort();
        interests.dedup();
        Ok(Contact {
            id: id.to_owned(),
            at: new.at.unwrap_or(now),
            canvasser: canvasser.to_owned(),
            place: clean(new.place),
            result: new.result,
            support: new.support,
            interests,
            follow_up: new.follow_up,
            note: clean(new.note),
            person: has_details.then_some(Person {
                name,
                phone,
                email,
                consent_at: now,
            }),
        })
    }
}

/// Writes a new contact into a contacts document, field by field, leaving out absent optional
/// fields.
///
/// This is the hot path of canvassing, and it is written by hand rather than with
/// `autosurgeon::reconcile_prop`: the derived reconcile reads the document before every write and
/// writes a null for every absent field, which cost about twice as much per contact in a
/// document of 10k (see `benches/log.rs`). The encoding is exactly what [`Contact`]'s derived
/// `Hydrate` reads (absent optional fields are `missing = "Default::default"`); the property test
/// `contacts_survive_insert_then_hydrate` holds the two together.
pub fn insert_contact(doc: &mut AutoCommit, contact: &Contact, doc_id: &str) -> Result<()> {
    let contacts = match doc.get(automerge::ROOT, "contacts")? {
        Some((Value::Object(ObjType::Map), id)) => id,
        _ => {
            return Err(Error::Schema {
                doc: doc_id.to_owned(),
                kind: DocKind::Contacts.as_str(),
                reason: "it has no \"contacts\" map".into(),
            });
        }
    };
    let obj = doc.put_object(&contacts, contact.id.as_str(), ObjType::Map)?;
    doc.put(&obj, "id", contact.id.as_str())?;
    doc.put(&obj, "at", contact.at)?;
    doc.put(&obj, "canvasser", contact.canvasser.as_str())?;
    doc.put(&obj, "result", contact.result.as_str())?;
    put_text(doc, &obj, "place", &contact.place)?;
    if let Some(support) = contact.support {
        doc.put(&obj, "support", ScalarValue::Uint(u64::from(support)))?;
    }
    if !contact.interests.is_empty() {
        let list = doc.put_object(&obj, "interests", ObjType::List)?;
        for (i, interest) in contact.interests.iter().enumerate() {
            doc.insert(&list, i, interest.as_str())?;
        }
    }
    if contact.follow_up {
        doc.put(&obj, "follow_up", true)?;
    }
    put_text(doc, &obj, "note", &contact.note)?;
    if let Some(person) = &contact.person {
        let p = doc.put_object(&obj, "person", ObjType::Map)?;
        put_text(doc, &p, "name", &person.name)?;
        put_text(doc, &p, "phone", &person.phone)?;
        put_text(doc, &p, "email", &person.email)?;
        doc.put(&p, "consent_at", person.consent_at)?;
    }
    Ok(())
}

fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &Option<String>) -> Result<()> {
    if let Some(value) = value {
        doc.put(obj, key, value.as_str())?;
    }
    Ok(())
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}
