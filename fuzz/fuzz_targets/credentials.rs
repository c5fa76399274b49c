//! What a stranger can hand the relay or a device to be let in: an invite code or join link,
//! and a connection proof in a URL's query string. Each is accepted or refused, never a panic.
#![no_main]

use groundwork_core::identity::{ConnectProof, Invite, invite_code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = invite_code(text) {
        let _ = Invite::verify_code(code);
    }
    let _ = Invite::verify_code(text);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).unwrap_or_default();
    if let Ok(proof) = ConnectProof::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        // Against another audience (refused before the signature) and its own (checked).
        let _ = proof.verify(&["ws://127.0.0.1:7878".to_owned()], 1_796_000_000_000);
        let _ = proof.verify(std::slice::from_ref(&proof.aud), 1_796_000_000_000);
        let _ = proof.to_query();
    }
});
