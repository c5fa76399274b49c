//! The relay's HTTP query strings and form bodies: the dashboard's filters (state, office,
//! position, sort, page) and the public map's, read or refused with the part that is wrong.
#![no_main]

use groundwork_relay::web::{MatrixQuery, PublicQuery, chosen, public_days};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = serde_urlencoded::from_str::<MatrixQuery>(text) {
        let _ = chosen(&q);
    }
    if let Ok(q) = serde_urlencoded::from_str::<PublicQuery>(text) {
        let _ = public_days(&q, "2026-12-01");
    }
});
