//! Control messages (JSON inside control frames) from a device or a relay: parsed or refused
//! by name, and what parses serialises back to the same message.
#![no_main]

use groundwork_core::sync::control::Control;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = Control::from_json(text) {
        let again = Control::from_json(&message.to_json()).expect("a control message round-trips");
        assert_eq!(again, message);
    }
});
