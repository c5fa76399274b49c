//! The hub as a relay runs it (server side): arbitrary frame sequences on several connections,
//! with ticks between, never panic, and every frame the hub sends decodes.
#![no_main]

use groundwork_core::sync::hub::{AllowAll, Effect, Hub, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libFuzzer's hook aborts on every panic, even one the code catches on purpose (the
        // guard around automerge, which panics on some malformed input). A quiet hook keeps
        // caught panics caught; one that escapes still aborts, in libfuzzer-sys's wrapper.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let mut hub = Hub::with_policy("relay".into(), PeerMetadata::default(), AllowAll);
    groundwork_fuzz_common::drive(&mut hub, Side::Server, data);
    // What it sends is well-formed.
    while let Some(e) = hub.poll_effect() {
        if let Effect::Send { frame, .. } = e {
            Message::decode(&frame).expect("the hub sends frames that decode");
        }
    }
});

#[path = "common.rs"]
mod groundwork_fuzz_common;
