//! Who a device is and what it can prove: its Ed25519 key (whose public half is its peer id),
//! signed connection requests that cannot be replayed, invites a lead signs offline, and roles.
//!
//! Every signature is over a domain-separated message, so a signature made for one purpose
//! (an invite) can never be passed off as another (a connection). A connection request also
//! names its audience, the relay it was made for ([`crate::relay::audience`]): a server a
//! device dialled by mistake learns a proof that no other relay accepts. Every request a
//! device makes of its relay (redeeming an invite, a dashboard link, signing up) travels on
//! the connection that proof opened, so it is bound to that relay too.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::random_bytes;
use crate::schema::vocab::vocabulary;

vocabulary! {
    /// What a device may do in a group.
    Role, "role" {
        /// Runs the group: edits the plan, reads every canvasser's contacts, invites and removes.
        Lead = "lead",
        /// Edits the plan.
        Member = "member",
        /// Reads the plan and logs contacts into their own documents.
        Canvasser = "canvasser",
    }
}

impl Role {
    /// Whether this role may edit a group's plan.
    pub fn edits_plan(self) -> bool {
        matches!(self, Role::Lead | Role::Member)
    }
}

/// How far a connection request's time may be from the relay's clock (milliseconds). The relay
/// remembers nonces at least this long on either side, so a request cannot be replayed.
pub const CONNECT_WINDOW_MS: i64 = 5 * 60_000;

/// The longest an invite may stay valid: a season of canvassing. A link posted in a public chat
/// and forgotten should not open the group years later; a lead makes a new one instead.
pub const MAX_INVITE_LIFETIME_MS: i64 = 90 * 86_400_000;

/// The most redemptions one invite may allow: the default size cap of a group
/// (a relay's own cap may be lower, and it refuses a join past it).
pub const MAX_INVITE_USES: u32 = 500;

/// v2 names the audience (v1, before it, did not; a relay refuses v1 proofs with the reason).
const CONNECT_DOMAIN: &[u8] = b"groundwork connect v2\n";
const INVITE_DOMAIN: &[u8] = b"groundwork invite v1\n";
const INVITE_PREFIX: &str = "gw1.";
/// What a join link starts with: the invite code follows. Phones register the `groundwork`
/// scheme, so scanning the link (as a QR code) opens the app on its join screen.
pub const JOIN_LINK_PREFIX: &str = "groundwork://join?invite=";

/// A device's key pair.
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// A new random identity.
    pub fn generate() -> Result<Self> {
        Ok(Self {
            key: SigningKey::from_bytes(&random_bytes::<32>()?),
        })
    }

    /// The identity whose secret key is `secret`.
    pub fn from_secret(secret: &[u8]) -> Result<Self> {
        let bytes: [u8; 32] = secret.try_into().map_err(|_| Error::Invalid {
            what: "device key",
            reason: format!("expected 32 bytes, found {}", secret.len()),
        })?;
        Ok(Self {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// The secret key, for the device store.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The device id: bs58 of the public key. It is the device's automerge-repo peer id.
    pub fn device_id(&self) -> String {
        bs58::encode(self.key.verifying_key().to_bytes()).into_string()
    }

    /// A fresh proof that this device is connecting at `now_ms` to the relay at `relay` (any
    /// form of its address: the proof signs its [audience](crate::relay::audience)).
    pub fn connect_proof(&self, relay: &str, now_ms: i64) -> Result<ConnectProof> {
        let aud = crate::relay::audience(relay)?;
        let device = self.device_id();
        let nonce = bs58::encode(random_bytes::<16>()?).into_string();
        let sig = self
            .key
            .sign(&connect_message(&aud, &device, now_ms, &nonce));
        Ok(ConnectProof {
            aud,
            device,
            ts: now_ms,
            nonce,
            sig: bs58::encode(sig.to_bytes()).into_string(),
        })
    }

    /// Signs an invite to `group` with `role`, good until `expires_at` (Unix ms) for `uses`
    /// redemptions, to be redeemed at `relay` (which the signature covers, so nobody can send
    /// the joiner elsewhere). Made offline; the relay checks it when someone redeems it.
    pub fn invite(
        &self,
        group: &str,
        role: Role,
        expires_at: i64,
        uses: u32,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        self.sign_invite(group, role, expires_at, uses, false, relay)
    }

    /// Signs an invite for another device of this device's own person, at this device's role.
    /// Any member may make one; either device may later report the other lost.
    pub fn own_device_invite(
        &self,
        group: &str,
        role: Role,
        expires_at: i64,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        self.sign_invite(group, role, expires_at, 1, true, relay)
    }

    fn sign_invite(
        &self,
        group: &str,
        role: Role,
        expires_at: i64,
        uses: u32,
        same_person: bool,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        if uses == 0 {
            return Err(Error::Invalid {
                what: "invite uses",
                reason: "an invite must allow at least one use".into(),
            });
        }
        if uses > MAX_INVITE_USES {
            return Err(Error::Invalid {
                what: "invite uses",
                reason: format!(
                    "{uses} uses is more than the {MAX_INVITE_USES} an invite may allow; \
                     make several invites, or one per canvassing day"
                ),
            });
        }
        let issued_at = next_issue_time();
        if expires_at - issued_at > MAX_INVITE_LIFETIME_MS {
            return Err(Error::Invalid {
                what: "invite expiry",
                reason: format!(
                    "an invite may stay valid for at most {} days; make a new one when it runs out",
                    MAX_INVITE_LIFETIME_MS / 86_400_000
                ),
            });
        }
        if let Some(relay) = relay {
            crate::relay::check_for_invite(relay)?;
        }
        let mut invite = Invite {
            // Derived from the signed payload below (it costs the code no characters, and the
            // code must fit a QR code a terminal can draw).
            id: String::new(),
            group: group.to_owned(),
            role,
            expires_at,
            uses,
            issuer: self.device_id(),
            same_person,
            relay: relay.map(str::to_owned),
            issued_at: Some(issued_at),
        };
        let payload = serde_json::to_vec(&invite).map_err(|e| Error::Invalid {
            what: "invite",
            reason: e.to_string(),
        })?;
        let mut message = INVITE_DOMAIN.to_vec();
        message.extend_from_slice(&payload);
        let sig = self.key.sign(&message);
        invite.id = payload_id(&payload);
        let code = format!(
            "{INVITE_PREFIX}{}.{}",
            bs58::encode(&payload).into_string(),
            bs58::encode(sig.to_bytes()).into_string()
        );
        Ok((invite, code))
    }
}

/// When an invite is made: now, in Unix ms, but never the same moment twice in this process.
/// An invite's id is derived from its signed payload, so two invites a lead makes in one
/// millisecond for the same role were one invite with one count of uses, and the second person
/// to redeem found it "already used" (found by the relay simulator). A later millisecond costs
/// the code no characters, where a random salt pushed its QR code past a terminal's width.
fn next_issue_time() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = crate::time::now_ms();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The id of an invite that carries none: 16 bytes of a hash of its signed payload, in bs58.
fn payload_id(payload: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(payload);
    bs58::encode(&digest[..16]).into_string()
}

fn connect_message(aud: &str, device: &str, ts: i64, nonce: &str) -> Vec<u8> {
    let mut m = CONNECT_DOMAIN.to_vec();
    m.extend_from_slice(format!("{aud}\n{device}\n{ts}\n{nonce}").as_bytes());
    m
}

/// The public key behind a device id.
pub fn verifying_key(device_id: &str) -> Result<VerifyingKey> {
    let bytes = bs58::decode(device_id)
        .into_vec()
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| Error::Invalid {
            what: "device id",
            reason: format!("{device_id:?} is not a bs58 Ed25519 public key"),
        })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| Error::Invalid {
        what: "device id",
        reason: format!("{device_id:?} is not a valid Ed25519 public key"),
    })
}

fn signature(text: &str, what: &'static str) -> Result<Signature> {
    let bytes = bs58::decode(text)
        .into_vec()
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| Error::Invalid {
            what,
            reason: "the signature is not 64 bytes of bs58".into(),
        })?;
    Ok(Signature::from_bytes(&bytes))
}

/// A device's signed claim to be connecting now to one relay, sent as the WebSocket URL's query
/// (`aud`, `device`, `ts`, `nonce`, `sig`). Anyone can check the signature; the relay also
/// checks that the audience is its own, the time, and that it has not seen the nonce, which
/// together stop replays, there and anywhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectProof {
    /// The relay it was made for: its [audience](crate::relay::audience).
    pub aud: String,
    /// The device id.
    pub device: String,
    /// When it was made (Unix ms).
    pub ts: i64,
    /// Random, never reused.
    pub nonce: String,
    /// bs58 of the Ed25519 signature.
    pub sig: String,
}

impl ConnectProof {
    /// The URL query carrying this proof.
    pub fn to_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("aud", &self.aud)
            .append_pair("device", &self.device)
            .append_pair("ts", &self.ts.to_string())
            .append_pair("nonce", &self.nonce)
            .append_pair("sig", &self.sig)
            .finish()
    }

    /// Reads a proof from a URL query's `(key, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let (mut aud, mut device, mut ts, mut nonce, mut sig) = (None, None, None, None, None);
        for (k, v) in pairs {
            match k {
                "aud" => aud = Some(v.to_owned()),
                "device" => device = Some(v.to_owned()),
                "ts" => ts = Some(v),
                "nonce" => nonce = Some(v.to_owned()),
                "sig" => sig = Some(v.to_owned()),
                _ => {}
            }
        }
        let missing = |what: &str| Error::Invalid {
            what: "connection request",
            reason: format!("missing {what}"),
        };
        let ts = ts.ok_or_else(|| missing("ts"))?;
        let aud = aud.ok_or_else(|| Error::Invalid {
            what: "connection request",
            reason: "it names no relay, as devices older than this relay's version do: update \
                     the Groundwork app or CLI on this device (its groups and contacts are kept)"
                .into(),
        })?;
        Ok(ConnectProof {
            aud,
            device: device.ok_or_else(|| missing("device"))?,
            ts: ts.parse().map_err(|_| Error::Invalid {
                what: "connection request",
                reason: format!("ts {ts:?} is not a number"),
            })?,
            nonce: nonce.ok_or_else(|| missing("nonce"))?,
            sig: sig.ok_or_else(|| missing("sig"))?,
        })
    }

    /// Checks that the proof was made for one of `audiences` (the relay's own, each as
    /// [`crate::relay::audience`] gives it), the signature, and that it was made within
    /// [`CONNECT_WINDOW_MS`] of `now_ms`. The caller must also check that the nonce is new.
    pub fn verify(&self, audiences: &[String], now_ms: i64) -> Result<()> {
        if !audiences.contains(&self.aud) {
            return Err(Error::Invalid {
                what: "connection request",
                reason: format!(
                    "it was made for another relay ({:?}), not this one ({}): a server the \
                     device dialled by mistake may be replaying it. If devices reach this relay \
                     at that address, start it with --public-url naming it",
                    self.aud,
                    audiences.join(", ")
                ),
            });
        }
        if (now_ms - self.ts).abs() > CONNECT_WINDOW_MS {
            return Err(Error::Invalid {
                what: "connection request",
                reason: "its time is too far from the relay's clock (check the device's clock)"
                    .into(),
            });
        }
        if self.nonce.is_empty() || self.nonce.len() > 64 {
            return Err(Error::Invalid {
                what: "connection request",
                reason: "bad nonce".into(),
            });
        }
        let key = verifying_key(&self.device)?;
        let sig = signature(&self.sig, "connection request")?;
        key.verify(
            &connect_message(&self.aud, &self.device, self.ts, &self.nonce),
            &sig,
        )
        .map_err(|_| Error::Invalid {
            what: "connection request",
            reason: "the signature does not match the device's key".into(),
        })
    }
}

/// An invite: a capability a lead's device signs offline. Whoever holds the code may join
/// `group` as `role` until `expires_at`, as long as fewer than `uses` have redeemed it and its
/// issuer is still a lead when it is redeemed (the relay checks both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The relay counts redemptions by it. Codes made before the invite's time of issue was
    /// signed carry a random one; newer codes carry none, and it is derived from the signed
    /// payload (group, role, issuer, times, uses, relay), so it cannot be changed without
    /// changing what was signed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The group.
    pub group: String,
    /// The role it grants.
    pub role: Role,
    /// Until when (Unix ms).
    pub expires_at: i64,
    /// How many devices may redeem it.
    pub uses: u32,
    /// The device that signed it.
    pub issuer: String,
    /// An invite for another device of the issuer's own person (same role): either device may
    /// then report the other lost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub same_person: bool,
    /// The relay where it is redeemed (its WebSocket URL), signed with the rest. Codes made
    /// before invites carried it have none: the joiner then names the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    /// When it was made (Unix ms, the issuer's clock). A device removed from the group may
    /// redeem only an invite made after its removal. Codes made before invites carried it have
    /// none, and count as made before any removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
}

impl Invite {
    /// Decodes a code (or a join link carrying one) and checks its signature against its
    /// issuer's key. Expiry and uses are the redeemer's to check.
    pub fn verify_code(code: &str) -> Result<Invite> {
        let bad = |reason: &str| Error::Invalid {
            what: "invite",
            reason: reason.to_owned(),
        };
        let rest = invite_code(code)?
            .strip_prefix(INVITE_PREFIX)
            .ok_or_else(|| bad("not a Groundwork invite code"))?;
        let (payload, sig) = rest
            .split_once('.')
            .ok_or_else(|| bad("the code is cut short"))?;
        let payload = bs58::decode(payload)
            .into_vec()
            .map_err(|_| bad("the code is damaged"))?;
        let mut invite: Invite =
            serde_json::from_slice(&payload).map_err(|_| bad("the code is damaged"))?;
        if invite.id.is_empty() {
            invite.id = payload_id(&payload);
        }
        let key = verifying_key(&invite.issuer)?;
        let sig = signature(sig, "invite")?;
        let mut message = INVITE_DOMAIN.to_vec();
        message.extend_from_slice(&payload);
        key.verify(&message, &sig)
            .map_err(|_| bad("the signature does not match its issuer (forged or altered)"))?;
        Ok(invite)
    }
}

/// The app-scheme join link for an invite code (`groundwork://join?invite=CODE`), which a native
/// app registers.
pub fn join_link(code: &str) -> String {
    format!("{JOIN_LINK_PREFIX}{}", code.trim())
}

/// The link an invite is shared as, what `invite create --qr` draws: on any phone it opens the
/// web app of the relay the invite names, `https://RELAY/join#CODE`. The code rides in the
/// fragment, which a browser never sends, so it reaches no server log. An invite that names
/// no relay has only the app-scheme link.
pub fn invite_link(invite: &Invite, code: &str) -> String {
    match invite.relay.as_deref().map(crate::relay::web_origin) {
        Some(Ok(origin)) => format!("{origin}/join#{}", code.trim()),
        _ => join_link(code),
    }
}

/// The invite code in `text`, which is a code or a join link: the web app's
/// (`https://RELAY/join#CODE`) or the app scheme's. The code's characters (bs58 and dots) need
/// no escaping in a URL, so a link is its prefix and the code, nothing else.
pub fn invite_code(text: &str) -> Result<&str> {
    let text = text.trim();
    if let Some(code) = text.strip_prefix(JOIN_LINK_PREFIX) {
        return Ok(code);
    }
    if let Some((_, code)) = text.split_once("/join#")
        && (text.starts_with("https://") || text.starts_with("http://"))
    {
        return Ok(code);
    }
    if text.contains("://") {
        return Err(Error::Invalid {
            what: "invite",
            reason: format!(
                "not a Groundwork join link: it should look like https://RELAY/join#CODE or \
                 start with {JOIN_LINK_PREFIX}"
            ),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_proof_verifies_once_made_and_not_when_altered() -> Result<()> {
        let id = Identity::generate()?;
        let here = vec!["ws://relay.example.org:7878".to_owned()];
        let proof = id.connect_proof("ws://Relay.example.org:7878/v1/sync", 1_000_000)?;
        assert_eq!(proof.aud, here[0]);
        proof.verify(&here, 1_000_000 + 1_000)?;
        let query = proof.to_query();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let parsed = ConnectProof::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        assert_eq!(parsed, proof);
        // Too old, or someone else's key, or a changed time: refused.
        assert!(
            proof
                .verify(&here, 1_000_000 + CONNECT_WINDOW_MS + 1)
                .is_err()
        );
        let other = Identity::generate()?;
        let forged = ConnectProof {
            device: other.device_id(),
            ..proof.clone()
        };
        assert!(forged.verify(&here, 1_000_000).is_err());
        let moved = ConnectProof {
            ts: proof.ts + 1,
            ..proof.clone()
        };
        assert!(moved.verify(&here, 1_000_000).is_err());
        // Made for another relay: refused there by its audience, and its audience cannot be
        // rewritten to this relay's without breaking the signature.
        let elsewhere = vec!["wss://other.example.org".to_owned()];
        let e = proof
            .verify(&elsewhere, 1_000_000)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("another relay")));
        let readdressed = ConnectProof {
            aud: elsewhere[0].clone(),
            ..proof
        };
        assert!(readdressed.verify(&elsewhere, 1_000_000).is_err());
        Ok(())
    }

    #[test]
    fn a_proof_from_before_audiences_is_refused_with_the_fix() {
        // What a device of the previous version sends: no `aud`.
        let old = [("device", "x"), ("ts", "1"), ("nonce", "n"), ("sig", "s")];
        let e = ConnectProof::from_pairs(old).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("update the Groundwork app or CLI")));
    }

    #[test]
    fn invites_have_a_capped_lifetime_and_uses_and_say_when_they_were_made() -> Result<()> {
        let lead = Identity::generate()?;
        let now = crate::time::now_ms();
        let (invite, _) = lead.invite("g", Role::Member, now + 86_400_000, 5, None)?;
        assert!(invite.issued_at.is_some_and(|t| (t - now).abs() < 60_000));
        let too_long = lead.invite(
            "g",
            Role::Member,
            now + MAX_INVITE_LIFETIME_MS + 60_000,
            1,
            None,
        );
        let e = too_long.err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("at most 90 days")));
        let too_many = lead.invite("g", Role::Member, now + 1_000, MAX_INVITE_USES + 1, None);
        let e = too_many.err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("more than the 500")));
        Ok(())
    }

    #[test]
    fn invites_made_in_the_same_moment_are_counted_apart() -> Result<()> {
        let lead = Identity::generate()?;
        let expires = crate::time::now_ms() + 86_400_000;
        // A lead making one invite per canvasser in a loop: same group, role, expiry and uses,
        // and (on a fast machine) the same millisecond.
        let ids: std::collections::BTreeSet<String> = (0..50)
            .map(|_| {
                lead.invite("g", Role::Canvasser, expires, 1, None)
                    .map(|(i, _)| i.id)
            })
            .collect::<Result<_>>()?;
        assert_eq!(ids.len(), 50, "each invite has its own count of uses");
        Ok(())
    }

    #[test]
    fn an_invite_round_trips_and_a_forged_one_is_refused() -> Result<()> {
        let lead = Identity::generate()?;
        let (invite, code) = lead.invite("group-1", Role::Canvasser, 5_000, 3, None)?;
        assert_eq!(Invite::verify_code(&code)?, invite);
        // Changing the payload (say, the role) breaks the signature.
        let mut altered = invite.clone();
        altered.role = Role::Lead;
        let payload = serde_json::to_vec(&altered).map_err(|e| Error::Random(e.to_string()))?;
        let sig = code.rsplit('.').next().unwrap_or_default();
        let forged = format!("gw1.{}.{sig}", bs58::encode(payload).into_string());
        let e = Invite::verify_code(&forged).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("forged")));
        assert!(Invite::verify_code("hello").is_err());
        assert!(lead.invite("g", Role::Member, 1, 0, None).is_err());
        Ok(())
    }

    #[test]
    fn a_link_carries_its_signed_relay_and_an_altered_relay_is_forged() -> Result<()> {
        let lead = Identity::generate()?;
        let relay = "wss://relay.example.org/v1/sync";
        let (invite, code) = lead.invite("group-1", Role::Member, 5_000, 1, Some(relay))?;
        let link = join_link(&code);
        assert_eq!(Invite::verify_code(&link)?, invite);
        assert_eq!(invite.relay.as_deref(), Some(relay));
        // Pointing the joiner at another relay breaks the signature.
        let mut moved = invite.clone();
        moved.relay = Some("wss://elsewhere.example.org/v1/sync".into());
        let payload = serde_json::to_vec(&moved).map_err(|e| Error::Random(e.to_string()))?;
        let sig = code.rsplit('.').next().unwrap_or_default();
        let forged = join_link(&format!(
            "gw1.{}.{sig}",
            bs58::encode(payload).into_string()
        ));
        let e = Invite::verify_code(&forged).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("forged")), "{forged}");
        assert!(Invite::verify_code("https://example.org/join?invite=x").is_err());
        // The web link opens the relay's app, the code in its fragment, and reads back.
        let web = invite_link(&invite, &code);
        assert_eq!(web, format!("https://relay.example.org/join#{code}"));
        assert_eq!(Invite::verify_code(&web)?, invite);
        assert!(
            lead.invite("g", Role::Member, 1, 1, Some("http://host"))
                .is_err()
        );
        Ok(())
    }
}
