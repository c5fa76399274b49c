//! Staff sign-in without passwords: one-time links a staff device asks for over its signed
//! connection, exchanged in a browser for a session. Only hashes are stored, as for tokens;
//! a session lasts while its staff role does.

use crate::db::{Db, DbError, Sql};

/// How long a sign-in link works: long enough to copy it from a terminal into a browser.
pub const LINK_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a session lasts: a working day.
pub const SESSION_TTL_MS: i64 = 8 * 60 * 60 * 1000;

/// Why a sign-in link was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkRefused {
    /// No link has this code.
    #[error("this sign-in link is not one the relay made; ask for a new one")]
    Unknown,
    /// It was used already.
    #[error("this sign-in link was used already; each works once (groundwork dashboard login)")]
    Used,
    /// It expired.
    #[error("this sign-in link expired; ask for a new one (groundwork dashboard login)")]
    Expired,
    /// The device is no longer staff.
    #[error("this device is no longer campaign staff")]
    NotStaff,
}

/// SHA-256 of a secret, hex: what the store keeps of links and sessions.
pub fn hash(secret: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random secret (256 bits, bs58), or `None` if the system has no randomness.
pub fn secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bs58::encode(bytes).into_string())
}

/// Stores a sign-in link for `device`; returns its code and when it expires. The caller
/// checked that the device is staff.
pub fn create_link(
    conn: &mut dyn Sql,
    device: &str,
    now: i64,
) -> Result<Option<(String, i64)>, DbError> {
    let Some(code) = secret() else {
        return Ok(None);
    };
    let expires_at = now + LINK_TTL_MS;
    conn.execute(
        "INSERT INTO web_links (code_hash, device_id, expires_at) VALUES ($1, $2, $3)",
        &[&hash(&code), &device, &expires_at],
    )?;
    conn.execute("DELETE FROM web_links WHERE expires_at < $1", &[&now])?;
    Ok(Some((code, expires_at)))
}

/// Uses up a sign-in link and opens a session, in one transaction; returns the session's
/// secret (the cookie) and when it expires. The link is spent even when it is refused for a
/// reason other than being unknown, so that it can never be tried twice.
pub fn redeem_link(
    db: &mut Db,
    code: &str,
    now: i64,
) -> Result<Result<(String, i64), LinkRefused>, DbError> {
    // Drawn first: without randomness no session opens and nothing is written (the link
    // stays unspent).
    let token = secret();
    db.transaction(|tx| {
        let row = tx.query_opt(
            "SELECT device_id, expires_at, used_at FROM web_links WHERE code_hash = $1",
            &[&hash(code)],
        )?;
        let Some(row) = row else {
            return Ok(Err(LinkRefused::Unknown));
        };
        let (device, expires_at, used_at): (String, i64, Option<i64>) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        if used_at.is_some() {
            return Ok(Err(LinkRefused::Used));
        }
        let refused = if expires_at < now {
            Some(LinkRefused::Expired)
        } else if !crate::campaign::is_staff(tx, &device)? {
            Some(LinkRefused::NotStaff)
        } else {
            None
        };
        if refused.is_none() && token.is_none() {
            return Ok(Err(LinkRefused::Unknown));
        }
        // Spent only if still unused: of two nodes redeeming it at once, one wins.
        if !spend(tx, code, now)? {
            return Ok(Err(LinkRefused::Used));
        }
        if let Some(refused) = refused {
            return Ok(Err(refused));
        }
        let Some(token) = token else {
            return Ok(Err(LinkRefused::Unknown));
        };
        let expires_at = now + SESSION_TTL_MS;
        tx.execute(
            "INSERT INTO web_sessions (token_hash, device_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[&hash(&token), &device, &now, &expires_at],
        )?;
        Ok(Ok((token, expires_at)))
    })
}

/// Marks a sign-in link used; whether it was still unused.
fn spend(tx: &mut dyn Sql, code: &str, now: i64) -> Result<bool, DbError> {
    Ok(tx.execute(
        "UPDATE web_links SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
        &[&hash(code), &now],
    )? == 1)
}

/// The staff device a session belongs to, if it is live: not ended, not expired, and its
/// device still staff (a revoked role ends every session at once).
pub fn session_device(
    conn: &mut dyn Sql,
    token: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    conn.query_opt(
        "SELECT s.device_id FROM web_sessions s
         JOIN staff st ON st.device_id = s.device_id AND st.revoked_at IS NULL
         WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at >= $2
           AND s.created_at >= st.added_at",
        &[&hash(token), &now],
    )?
    .map(|r| r.get(0))
    .transpose()
}

/// Ends a session (sign-out).
pub fn end_session(conn: &mut dyn Sql, token: &str, now: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE web_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
        &[&hash(token), &now],
    )?;
    Ok(())
}
