//! Sync: automerge-repo's wire protocol ([`wire`]) and the sans-IO state machine that speaks it
//! ([`hub`]). Hosts (the device's dialer, the relay's WebSocket handler, the test simulator)
//! drive a [`hub::Hub`] with frames and time and run the effects it returns; [`session`] is the
//! device's side of one connection to its relay, with no IO; [`connection`] is the
//! device's view of its link to the relay (state, backoff).

pub mod connection;
pub mod control;
pub mod hub;
pub mod session;
pub mod wire;
