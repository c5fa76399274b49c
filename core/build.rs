//! Names the browser target once: `cfg(browser)` is wasm32-unknown-unknown (no threads, no file
//! system, the clock and randomness from JavaScript), where the core runs in a web worker.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(browser)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "wasm32" && os == "unknown" {
        println!("cargo::rustc-cfg=browser");
    }
}
