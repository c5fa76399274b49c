//! This device itself: `init`, `whoami`, and `store` (the index and compaction).

use std::path::{Path, PathBuf};

use anyhow::Result;
use groundwork_core::Device;
use serde_json::json;

use super::{Output, store_key};
use crate::StoreCommand;
use crate::render::{self, count};

/// `init --name NAME`: a new store and identity in `dir`, and its key file unless the key
/// comes from the environment.
pub(super) fn init(dir: &Path, key_file: Option<PathBuf>, name: &str) -> Result<Output> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    if path.exists() {
        // Said before any key file is touched.
        return Err(groundwork_core::Error::AlreadyInitialized { path }.into());
    }
    let key = store_key(dir, key_file, true)?;
    let device = Device::init(dir, name, &key)?;
    let info = device.info();
    Ok(Output::new(
        json!(info),
        format!(
            "initialised device {} ({})\n",
            info.device_id,
            render::clean_line(&info.name)
        ),
    ))
}

/// `whoami [--id]`.
pub(super) fn whoami(device: &Device, id: bool) -> Output {
    let info = device.info();
    let text = if id {
        format!("{}\n", info.device_id)
    } else {
        format!("{} ({})\n", info.device_id, render::clean_line(&info.name))
    };
    Output::new(json!(info), text)
}

/// `store rebuild-index|compact`.
pub(super) fn store(device: &mut Device, command: StoreCommand) -> Result<Output> {
    Ok(match command {
        StoreCommand::RebuildIndex => {
            device.rebuild_index()?;
            Output::new(json!({ "rebuilt": true }), "index rebuilt\n")
        }
        StoreCommand::Compact => {
            let n = device.compact_all()?;
            Output::new(
                json!({ "compacted": n }),
                format!("{} compacted\n", count(n, "document")),
            )
        }
    })
}
