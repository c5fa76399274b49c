#!/usr/bin/env bash
# Builds build/GroundworkFFI.xcframework: the Rust library for iOS devices (arm64), the
# simulator (arm64 + x86_64, one fat library) and macOS (arm64 + x86_64, for `swift test` on a
# Mac), with the generated C header and module map. Needs macOS with Xcode, and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#     aarch64-apple-darwin x86_64-apple-darwin
# SQLCipher is built with a vendored OpenSSL (groundwork-ffi's `vendored-openssl` feature).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin; do
  cargo build --locked --release -p groundwork-ffi --features vendored-openssl --target "$target"
done

out="$here/build"
rm -rf "$out/GroundworkFFI.xcframework" "$out/headers" "$out/sim" "$out/macos"
mkdir -p "$out/headers" "$out/sim" "$out/macos"

# The header and module map are generated from the library (and checked in under Generated/);
# the module map must be called module.modulemap inside the framework.
cargo run --locked -p groundwork-uniffi-bindgen --bin uniffi-bindgen -- generate \
  --library "target/aarch64-apple-ios/release/libgroundwork_ffi.a" \
  --language swift --no-format --out-dir "$out/generated"
cp "$out/generated/GroundworkFFIFFI.h" "$out/headers/"
cp "$out/generated/GroundworkFFIFFI.modulemap" "$out/headers/module.modulemap"
if ! diff -q "$out/generated/GroundworkFFI.swift" "$here/Generated/GroundworkFFI.swift" >/dev/null; then
  echo "Generated/GroundworkFFI.swift is stale: copy $out/generated/GroundworkFFI.swift over it" >&2
  exit 1
fi

lipo -create \
  target/aarch64-apple-ios-sim/release/libgroundwork_ffi.a \
  target/x86_64-apple-ios/release/libgroundwork_ffi.a \
  -output "$out/sim/libgroundwork_ffi.a"
lipo -create \
  target/aarch64-apple-darwin/release/libgroundwork_ffi.a \
  target/x86_64-apple-darwin/release/libgroundwork_ffi.a \
  -output "$out/macos/libgroundwork_ffi.a"

xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/release/libgroundwork_ffi.a -headers "$out/headers" \
  -library "$out/sim/libgroundwork_ffi.a" -headers "$out/headers" \
  -library "$out/macos/libgroundwork_ffi.a" -headers "$out/headers" \
  -output "$out/GroundworkFFI.xcframework"
echo "built $out/GroundworkFFI.xcframework"
