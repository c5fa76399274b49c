//! `contact`: logging contacts at the door, listing and exporting them.

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::store::index::ContactQuery;
use groundwork_core::time::parse_rfc3339;
use serde_json::json;

use super::Output;
use crate::ContactCommand;
use crate::render::{self, count};

pub(super) fn run(device: &mut Device, command: ContactCommand, json: bool) -> Result<Output> {
    Ok(match command {
        ContactCommand::Log(c) => {
            let new = NewContact {
                result: c.result,
                support: c.support,
                place: c.place,
                interests: c.interests,
                follow_up: c.follow_up,
                note: c.note,
                consent: c.consent,
                name: c.name,
                phone: c.phone,
                email: c.email,
                at: c.at.as_deref().map(parse_rfc3339).transpose()?,
            };
            let contact_id = device.log_contact(&c.group, new).map_err(|e| match e {
                groundwork_core::Error::ConsentRequired => anyhow::anyhow!(
                    "personal details (--name, --phone, --email) are recorded only with the \
                 person's consent: pass --consent once they have agreed, or leave them out"
                ),
                e => e.into(),
            })?;
            Output::new(
                json!({ "contact_id": contact_id }),
                format!("{contact_id}\n"),
            )
        }
        ContactCommand::List {
            group,
            result,
            limit,
            after,
            all,
        } => {
            let query = ContactQuery {
                result,
                limit,
                after,
            };
            if all {
                return stream_contacts(device, &group, query, json);
            }
            let page = device.contact_page(&group, &query)?;
            Output::new(
                render::contact_page_json(&page),
                render::contact_page(&page),
            )
        }
        ContactCommand::Export { group, csv } => {
            let n = device.export_contacts_csv(&group, &csv)?;
            Output::new(
                json!({ "exported": n, "file": csv }),
                format!("{} written to {}\n", count(n, "contact"), csv.display()),
            )
        }
    })
}

/// `contact list --all`: every row, a page at a time from the index, written as it is read
/// (one JSON value, `{"items": [...], "next": null, "total": N}`, with `--json`).
fn stream_contacts(
    device: &Device,
    group: &str,
    mut query: ContactQuery,
    json: bool,
) -> Result<Output> {
    use std::io::Write;
    const PAGE: u32 = 500;
    query.limit = PAGE;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut first = true;
    let mut written = 0u64;
    if json {
        write!(out, "{{\"items\":[")?;
    }
    loop {
        let page = device.contact_page(group, &query)?;
        for row in &page.items {
            if json {
                if !first {
                    write!(out, ",")?;
                }
                write!(out, "{}", render::contact_json(row))?;
            } else {
                write!(out, "{}", render::contacts(std::slice::from_ref(row)))?;
            }
            first = false;
            written += 1;
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    if json {
        writeln!(out, "],\"next\":null,\"total\":{written}}}")?;
    } else {
        writeln!(out, "{written} contacts")?;
    }
    out.flush()?;
    Ok(Output::streamed())
}
