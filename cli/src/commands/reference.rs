//! What ships with the program and needs no store: `rules` and `places`.

use anyhow::Result;
use groundwork_core::rules::RULES;
use serde_json::json;

use super::Output;
use crate::PlacesCommand;
use crate::render;

/// `rules`: the model rules.
pub(super) fn rules() -> Output {
    Output::new(json!(RULES), render::rules())
}

/// `places search TEXT`: counties from the directory.
pub(super) fn places(command: PlacesCommand) -> Result<Output> {
    let PlacesCommand::Search { text, limit } = command;
    let found = groundwork_core::places::search(&text, limit);
    if found.is_empty() {
        anyhow::bail!("no county matches {text:?}");
    }
    Ok(Output::new(json!(found), render::counties(&found)))
}
