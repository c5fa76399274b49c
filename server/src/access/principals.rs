//! Who is on each connection (a device, a token's holder, anonymous), and the device-wide
//! grants: campaign staff, and who may create groups where the operator set a sign-up code.

use std::collections::{HashMap, HashSet};

use groundwork_core::sync::hub::ConnId;

/// Who is on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No proof and no token: may read nothing.
    Anonymous,
    /// A device that proved its key.
    Device(String),
    /// A plain automerge-repo client with a token acting for a device, in one group only.
    Token {
        /// The device it acts for.
        device: String,
        /// The only group it may touch.
        group: String,
        /// When the token stops working (Unix ms): its session ends then too.
        expires_at: i64,
    },
}

impl Principal {
    /// Whom its frames count against: its device, or for an anonymous peer its address.
    pub fn rate_key(&self, addr: std::net::IpAddr) -> String {
        match self {
            Principal::Anonymous => format!("addr:{addr}"),
            Principal::Device(d) | Principal::Token { device: d, .. } => format!("device:{d}"),
        }
    }

    /// The device it is, or acts for.
    pub fn device(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Device(d) | Principal::Token { device: d, .. } => Some(d),
        }
    }
}

/// The connections' principals and the device-wide grants.
#[derive(Debug, Default)]
pub(super) struct Principals {
    pub(super) conns: HashMap<ConnId, Principal>,
    /// Campaign staff: they read every board.
    pub(super) staff: HashSet<String>,
    /// Devices that presented the sign-up code.
    pub(super) creators: HashSet<String>,
    /// The operator's sign-up code, if creating groups needs one.
    pub(super) signup_code: Option<String>,
}

impl Principals {
    /// A connection was authenticated as `principal`.
    pub(super) fn connect(&mut self, conn: ConnId, principal: Principal) {
        self.conns.insert(conn, principal);
    }

    /// A connection closed.
    pub(super) fn disconnect(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// Who is on a connection.
    pub(super) fn principal(&self, conn: ConnId) -> Option<&Principal> {
        self.conns.get(&conn)
    }

    /// Connections opened with a token that has expired by `now` (Unix ms).
    pub(super) fn expired_token_conns(&self, now: i64) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, p)| matches!(p, Principal::Token { expires_at, .. } if *expires_at < now))
            .map(|(c, _)| *c)
            .collect()
    }

    /// Every connection of a device (its own and its tokens').
    pub(super) fn conns_of(&self, device: &str) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, p)| p.device() == Some(device))
            .map(|(c, _)| *c)
            .collect()
    }

    /// Campaign staff are these devices now (the operator's tool writes the table; the relay
    /// reads it again on its tick). Returns the devices that stopped being staff.
    pub(super) fn set_staff(&mut self, staff: HashSet<String>) -> Vec<String> {
        let revoked = self.staff.difference(&staff).cloned().collect();
        self.staff = staff;
        revoked
    }

    /// Whether `device` is campaign staff now (read again as it connects).
    pub(super) fn set_one_staff(&mut self, device: &str, staff: bool) {
        if staff {
            self.staff.insert(device.to_owned());
        } else {
            self.staff.remove(device);
        }
    }

    /// Whether `device` is campaign staff.
    pub(super) fn is_staff(&self, device: &str) -> bool {
        self.staff.contains(device)
    }
}
