//! The CBOR frame decoder: any bytes a peer sends decode to a message or a clear error, and
//! what decodes encodes back to a frame that decodes to the same message.
#![no_main]

use groundwork_core::sync::wire::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let again = Message::decode(&message.encode()).expect("an encoded message decodes");
        assert_eq!(again, message, "a message survives a round trip");
    }
});
