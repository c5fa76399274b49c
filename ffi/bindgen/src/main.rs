//! `uniffi-bindgen` at the exact uniffi version groundwork-ffi is built with: generates the
//! Kotlin and Swift bindings from the compiled library (`generate --library`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
