//! Groundwork's control messages, carried as JSON inside [`Message::Control`] frames on the same
//! authenticated WebSocket as sync: requests a device makes of its relay (sign up, redeem an
//! invite, remove a member, mint a token) and their answers, the relay's order to wipe a
//! group the device was removed from, with the device's confirmation, and the addresses the
//! relay answers at.
//!
//! [`Message::Control`]: crate::sync::wire::Message::Control

use serde::{Deserialize, Serialize};

use crate::campaign::{Official, OfficialDetail, OfficialFilter};
use crate::error::{Error, Result};
use crate::identity::Role;

/// One control message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Control {
    /// Device -> relay: do something; answered by a [`Control::Response`] with the same id.
    Request {
        /// Chosen by the device, echoed in the answer.
        id: u64,
        /// What to do.
        request: Request,
    },
    /// Relay -> device: the answer to a request.
    Response {
        /// The request's id.
        id: u64,
        /// The answer, when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ok: Option<Answer>,
        /// Why it was refused, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Relay -> device: you were removed from this group; delete everything of it.
    Wipe {
        /// The group.
        group: String,
    },
    /// Device -> relay: done wiping.
    Wiped {
        /// The group.
        group: String,
    },
    /// Relay -> device, after the handshake: the addresses this relay answers at (its
    /// `--public-url`s, as audiences; the nodes of one relay share them). A device with groups
    /// dials only its own relay, and these count as it.
    Addresses {
        /// Each as [`crate::relay::audience`] gives it.
        urls: Vec<String>,
    },
    /// Relay -> device: every document this device may read has been offered on this
    /// connection (after its own opening messages), so a one-off sync knows when it has heard
    /// of everything.
    Offered,
}

/// What a device can ask of its relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Request {
    /// Present the relay operator's sign-up code, allowing this device to create groups.
    SignUp {
        /// The code.
        code: String,
    },
    /// Join a group with an invite code.
    Redeem {
        /// The invite code.
        invite: String,
        /// This device's name, for the roster.
        name: String,
    },
    /// Remove a device from a group (a lead), or report one's own other device lost.
    RemoveMember {
        /// The group.
        group: String,
        /// The device to remove.
        device: String,
    },
    /// A short-lived token letting a plain automerge-repo client act as this device in one group.
    MintToken {
        /// The group.
        group: String,
        /// Lifetime in seconds.
        ttl_secs: u64,
    },
    /// Campaign staff only: the officials sharing groups ask, with their latest answers.
    CampaignOfficials {
        /// Which officials.
        #[serde(default)]
        filter: OfficialFilter,
    },
    /// Campaign staff only: one official's page (`FIPS/office[/place]`).
    CampaignOfficial {
        /// The official's key.
        key: String,
    },
    /// Campaign staff only: a one-time link that signs a browser in to the relay's dashboard.
    DashboardLink,
    /// Follow (or stop following) a county's board: the relay then serves it to this device
    /// beside the boards of its groups' counties. Leads, members and staff; not canvassers.
    FollowBoard {
        /// The county (FIPS).
        county: String,
        /// `false` stops following.
        follow: bool,
    },
}

/// What a request returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Answer {
    /// Done; nothing to return.
    Done,
    /// Joined: the group and the role granted.
    Joined {
        /// The group (its id is its plan's document id).
        group: String,
        /// The role.
        role: Role,
    },
    /// A token and when it expires (Unix ms).
    Token {
        /// The token, for the WebSocket URL's `token` query parameter.
        token: String,
        /// When it stops working.
        expires_at: i64,
    },
    /// Officials, for campaign staff.
    Officials {
        /// By state, county and key.
        officials: Vec<Official>,
    },
    /// An official's page, for campaign staff.
    Official {
        /// Every sharing group's reports and meetings.
        detail: Box<OfficialDetail>,
    },
    /// A dashboard sign-in code (the link is the relay's `/campaign/login?code=CODE`).
    DashboardLink {
        /// The one-time code.
        code: String,
        /// When it stops working (Unix ms).
        expires_at: i64,
    },
    /// The counties this device follows now, after a follow request.
    Following {
        /// FIPS codes, sorted.
        counties: Vec<String>,
    },
}

impl Control {
    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        // Serialising these plain enums cannot fail: every field is a string, integer or enum.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a control message.
    pub fn from_json(body: &str) -> Result<Self> {
        serde_json::from_str(body).map_err(|e| Error::Invalid {
            what: "control message",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip_through_json() -> Result<()> {
        let messages = [
            Control::Request {
                id: 7,
                request: Request::Redeem {
                    invite: "gw1.x.y".into(),
                    name: "phone".into(),
                },
            },
            Control::Response {
                id: 7,
                ok: Some(Answer::Joined {
                    group: "g".into(),
                    role: Role::Canvasser,
                }),
                error: None,
            },
            Control::Response {
                id: 8,
                ok: None,
                error: Some("expired".into()),
            },
            Control::Wipe { group: "g".into() },
            Control::Addresses {
                urls: vec!["wss://relay.example.org".into()],
            },
        ];
        for m in messages {
            assert_eq!(Control::from_json(&m.to_json())?, m);
        }
        assert!(Control::from_json("{\"op\":\"nope\"}").is_err());
        Ok(())
    }
}
