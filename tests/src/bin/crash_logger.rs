//! Logs contacts as fast as it can and prints each contact id on stdout the moment the call
//! returns, until it is killed. The crash test kills it with SIGKILL and then checks that every
//! printed id is in the store.

use std::io::Write;
use std::path::PathBuf;

use groundwork_core::Device;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::vocab::ContactResult;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(group)) = (args.next(), args.next()) else {
        return Err("usage: crash-logger DATA_DIR GROUP_ID".into());
    };
    let mut device = Device::open(&PathBuf::from(dir), &groundwork_tests::test_key())?;
    let stdout = std::io::stdout();
    for i in 0u64.. {
        let mut contact = NewContact::new(ContactResult::ALL[(i % 8) as usize]);
        contact.note = Some(format!("synthetic note {i}"));
        contact.support = Some((i % 5) as u8 + 1);
        let id = device.log_contact(&group, contact)?;
        let mut out = stdout.lock();
        writeln!(out, "{id}")?;
        out.flush()?;
    }
    Ok(())
}
