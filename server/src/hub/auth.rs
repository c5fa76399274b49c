//! Who a connection is: a device that proved its key with a fresh nonce, a token's holder, or
//! anonymous; a token's session ends with the token; a device's peer id must be its own; staff
//! roles are read again as the operator changes them.

use groundwork_core::identity::ConnectProof;
use groundwork_core::sync::hub::{ConnId, Hub};

use crate::access::{Principal, RelayAccess};
use crate::store::{RelayStore, StoreError};

use super::health::StorageHealth;
use super::residency::hold_groups;

/// Decides who a connection request is. Refusals say why. The error beside the answer is a
/// store that could not record the nonce: the caller stops taking changes (the nonce is kept
/// in memory meanwhile, so a replay is refused all the same).
pub(super) fn authenticate(
    proof: Option<ConnectProof>,
    token: Option<String>,
    audiences: &[String],
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    health: &mut StorageHealth,
) -> (Result<Principal, String>, Option<StoreError>) {
    let now = hub.policy().now();
    if let Some(proof) = proof {
        if let Err(e) = proof.verify(audiences, now) {
            return (Err(e.to_string()), None);
        }
        let replayed =
            || "replayed connection request: its nonce was already used; sign a new one".to_owned();
        if health.nonce_seen(&proof.nonce) {
            return (Err(replayed()), None);
        }
        let expires = proof.ts + groundwork_core::identity::CONNECT_WINDOW_MS;
        // Recording the nonce is the check: of two relay nodes given the same request at once,
        // the database lets one record it.
        return match store.use_nonce(&proof.nonce, expires) {
            Ok(true) => (Ok(Principal::Device(proof.device)), None),
            Ok(false) => (Err(replayed()), None),
            Err(e) => {
                // A store that takes no writes may still serve reads: the nonce is checked
                // there and remembered in memory meanwhile.
                match store.nonce_seen(&proof.nonce) {
                    Err(lookup) => {
                        tracing::error!(error = %lookup, "nonce lookup failed");
                        (Err("relay storage failure".to_owned()), None)
                    }
                    Ok(true) => (Err(replayed()), None),
                    Ok(false) => {
                        tracing::warn!(error = %e, "a connection nonce is kept in memory: the store takes no writes");
                        health.keep_nonce(&proof.nonce, expires);
                        (Ok(Principal::Device(proof.device)), Some(e))
                    }
                }
            }
        };
    }
    if let Some(token) = token {
        return (token_holder(&token, hub, store, now), None);
    }
    (Ok(Principal::Anonymous), None)
}

/// The device and group a token stands for, while it is live and its device in the group.
fn token_holder(
    token: &str,
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    now: i64,
) -> Result<Principal, String> {
    let found = store.token(&token_hash(token), now).map_err(|e| {
        tracing::error!(error = %e, "token lookup failed");
        "relay storage failure".to_owned()
    })?;
    let Some((device, group, expires_at)) = found else {
        return Err("unknown or expired token".into());
    };
    hold_groups(hub.policy_mut(), store, std::slice::from_ref(&group)).map_err(|e| {
        tracing::error!(error = %e, "reading a token's group failed");
        "relay storage failure".to_owned()
    })?;
    if hub.policy().role(&group, &device).is_none() {
        return Err("the token's device is no longer in its group".into());
    }
    Ok(Principal::Token {
        device,
        group,
        expires_at,
    })
}

/// The connections whose token expired: a token is a session's whole lifetime, not just its
/// opening, as a device's session ends with its removal.
pub(super) fn expired_token_conns(policy: &RelayAccess) -> Vec<ConnId> {
    policy.expired_token_conns(policy.now())
}

/// Purges expired nonces and tokens, in memory and in the store.
pub(super) fn purge(health: &mut StorageHealth, store: &RelayStore, now: i64) {
    health.purge_nonces(now);
    if let Err(e) = store.purge_expired(now) {
        tracing::warn!(error = %e, "purging expired nonces and tokens failed");
    }
}

/// Why a handshake's peer id is refused, if it is: a device's peer id is its id, or its id and
/// a session (`DEVICE.SESSION`), never another's.
pub(super) fn check_peer_id(principal: Option<&Principal>, peer: &str) -> Result<(), &'static str> {
    if let Some(Principal::Device(device)) = principal {
        let own = peer == device
            || peer
                .strip_prefix(device.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
        if !own {
            return Err("the join message's peer id is not the device that signed the connection");
        }
    }
    Ok(())
}

/// What changed in the staff table the operator writes while the relay runs.
pub(super) struct StaffChange {
    /// Devices that became staff: offered every board now.
    pub(super) added: Vec<String>,
    /// Devices no longer staff: their connections close, so their next sync drops the boards.
    pub(super) revoked: Vec<String>,
}

/// Reads the staff table again (the operator's `staff add|remove` writes it while the relay
/// runs); `None` if it cannot be read.
pub(super) fn refresh_staff(
    policy: &mut RelayAccess,
    store: &RelayStore,
    quiet: bool,
) -> Option<StaffChange> {
    let staff = match store.staff() {
        Ok(s) => s.into_iter().collect::<std::collections::HashSet<_>>(),
        Err(e) => {
            if !quiet {
                tracing::warn!(error = %e, "reading campaign staff failed");
            }
            return None;
        }
    };
    let added: Vec<String> = staff
        .iter()
        .filter(|d| !policy.is_staff(d))
        .cloned()
        .collect();
    let revoked = policy.set_staff(staff);
    Some(StaffChange { added, revoked })
}

/// How tokens are kept at rest: SHA-256, hex.
pub(super) fn token_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
