#!/usr/bin/env bash
# Builds the native library for Android's four ABIs into src/main/jniLibs/<abi>/ with cargo-ndk,
# and generates the Kotlin bindings into build/generated/uniffi, ready for an Android library
# module (see ../README.md). Needs the Android NDK (ANDROID_NDK_HOME) and:
#   cargo install cargo-ndk
#   rustup target add aarch64-linux-android armv7-linux-androideabi i686-linux-android x86_64-linux-android
# SQLCipher is built with a vendored OpenSSL (groundwork-ffi's `vendored-openssl` feature).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo ndk --platform 24 \
  -t arm64-v8a -t armeabi-v7a -t x86 -t x86_64 \
  -o "$here/src/main/jniLibs" \
  build --locked --release -p groundwork-ffi --features vendored-openssl

# The bindings come from one of the libraries just built (they are the same for every ABI).
cargo run --locked -p groundwork-uniffi-bindgen --bin uniffi-bindgen -- generate \
  --library "$here/src/main/jniLibs/arm64-v8a/libgroundwork_ffi.so" \
  --language kotlin --no-format --out-dir "$here/build/generated/uniffi"
echo "jniLibs in $here/src/main/jniLibs; Kotlin bindings in $here/build/generated/uniffi"
