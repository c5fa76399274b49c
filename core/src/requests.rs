//! The requests a device makes of its relay, one typed flow each, as every client runs them
//! (the CLI, the SDKs, the browser): sans-IO, so the host sends the request however it talks
//! to the relay, and the flow judges the answer and does any local write.
//!
//! A flow's [`Flow::request`] is the [`Request`] to send; the host sends it (natively with
//! [`crate::net::request`], or all in one with `crate::net::ask`; the browser over its own
//! `WebSocket`) and hands the relay's answer, or why there was none, to [`Flow::finish`]. That
//! returns what the request gives back, after recording on the [`Device`] whatever the answer
//! means for it (a group joined, the counties followed). A refusal passes through as it came;
//! an answer of another kind than the request's becomes [`Error::UnexpectedAnswer`], here in
//! [`expect`] and nowhere else.
//!
//! Joining ([`Join`]) is the one flow that starts offline, from [`Device::begin_join`], and
//! takes the device's name when its request is made.

use serde::Serialize;

use crate::campaign::{Official, OfficialDetail, OfficialFilter};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::identity::{Invite, Role};
use crate::places::County;
use crate::sync::control::{Answer, Request};
use crate::time::now_ms;

/// One request of the relay, sans-IO: the request to send, then the answer taken in.
pub trait Flow {
    /// What the request gives back once the relay has answered it.
    type Output;

    /// The request to send to the relay.
    fn request(&self) -> Request;

    /// Takes the relay's answer to [`Flow::request`] (or why there was none: a refusal, a
    /// lost connection), records what it means on `device`, and returns what the request
    /// gives back. Nothing is written unless the answer is the one expected.
    fn finish(&self, device: &mut Device, answer: Result<Answer>) -> Result<Self::Output>;
}

/// The answer when `pick` takes it (it hands any other kind back); a refusal, or a failure to
/// get an answer at all, as it came; an answer of another kind as
/// [`Error::UnexpectedAnswer`], naming the request (`request`, its wire name) and the answer.
fn expect<T>(
    request: &'static str,
    answer: Result<Answer>,
    pick: impl FnOnce(Answer) -> Result<T, Answer>,
) -> Result<T> {
    pick(answer?).map_err(|other| Error::UnexpectedAnswer {
        request,
        answer: answer_kind(&other),
    })
}

/// An answer's kind, as the wire spells it.
fn answer_kind(answer: &Answer) -> &'static str {
    match answer {
        Answer::Done => "done",
        Answer::Joined { .. } => "joined",
        Answer::Token { .. } => "token",
        Answer::Officials { .. } => "officials",
        Answer::Official { .. } => "official",
        Answer::DashboardLink { .. } => "dashboard-link",
        Answer::Following { .. } => "following",
    }
}

/// Presenting the relay operator's sign-up code, which lets this device create groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignUp {
    /// The code.
    pub code: String,
}

impl Flow for SignUp {
    type Output = ();

    fn request(&self) -> Request {
        Request::SignUp {
            code: self.code.clone(),
        }
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<()> {
        expect("sign-up", answer, done)
    }
}

/// Removing a device from a group (a lead), or reporting one's own other device lost. The
/// relay stops serving it at once and orders it to wipe the group when it next connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveMember {
    /// The group.
    pub group: String,
    /// The device to remove.
    pub device: String,
}

impl Flow for RemoveMember {
    type Output = ();

    fn request(&self) -> Request {
        Request::RemoveMember {
            group: self.group.clone(),
            device: self.device.clone(),
        }
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<()> {
        expect("remove-member", answer, done)
    }
}

/// Takes [`Answer::Done`], for [`expect`].
fn done(answer: Answer) -> Result<(), Answer> {
    match answer {
        Answer::Done => Ok(()),
        other => Err(other),
    }
}

/// Minting a short-lived token that lets a plain automerge-repo client act as this device in
/// one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintToken {
    /// The group.
    pub group: String,
    /// How long it should work, in seconds (the relay caps it).
    pub ttl_secs: u64,
}

/// A token the relay minted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Token {
    /// The token, for the WebSocket URL's `token` query parameter.
    pub token: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
}

impl Flow for MintToken {
    type Output = Token;

    fn request(&self) -> Request {
        Request::MintToken {
            group: self.group.clone(),
            ttl_secs: self.ttl_secs,
        }
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<Token> {
        expect("mint-token", answer, |answer| match answer {
            Answer::Token { token, expires_at } => Ok(Token { token, expires_at }),
            other => Err(other),
        })
    }
}

/// Campaign staff only: the officials sharing groups ask, with their latest answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignOfficials {
    /// Which officials.
    pub filter: OfficialFilter,
}

impl Flow for CampaignOfficials {
    type Output = Vec<Official>;

    fn request(&self) -> Request {
        Request::CampaignOfficials {
            filter: self.filter.clone(),
        }
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<Vec<Official>> {
        expect("campaign-officials", answer, |answer| match answer {
            Answer::Officials { officials } => Ok(officials),
            other => Err(other),
        })
    }
}

/// Campaign staff only: one official's page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignOfficial {
    /// The official's key (`FIPS/office[/place]`).
    pub key: String,
}

impl Flow for CampaignOfficial {
    type Output = OfficialDetail;

    fn request(&self) -> Request {
        Request::CampaignOfficial {
            key: self.key.clone(),
        }
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<OfficialDetail> {
        expect("campaign-official", answer, |answer| match answer {
            Answer::Official { detail } => Ok(*detail),
            other => Err(other),
        })
    }
}

/// Campaign staff only: a one-time code that signs a browser in to the relay's dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DashboardLink;

/// A dashboard sign-in code the relay issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DashboardSignIn {
    /// The one-time code.
    pub code: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
}

impl DashboardSignIn {
    /// The link a browser opens to sign in, at the web address of `relay` (the sync URL the
    /// code was asked of): `https://HOST/campaign/login?code=CODE`.
    pub fn link(&self, relay: &str) -> Result<String> {
        Ok(format!(
            "{}/campaign/login?code={}",
            crate::relay::web_origin(relay)?,
            self.code
        ))
    }
}

impl Flow for DashboardLink {
    type Output = DashboardSignIn;

    fn request(&self) -> Request {
        Request::DashboardLink
    }

    fn finish(&self, _device: &mut Device, answer: Result<Answer>) -> Result<DashboardSignIn> {
        expect("dashboard-link", answer, |answer| match answer {
            Answer::DashboardLink { code, expires_at } => Ok(DashboardSignIn { code, expires_at }),
            other => Err(other),
        })
    }
}

/// Following (or no longer following) a county's board: the relay then serves it to this
/// device beside the boards of its groups' counties. Its answer, every county followed now, is
/// recorded on the device. Leads, members and staff; not canvassers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowBoard {
    /// The county, from the directory.
    place: &'static County,
    /// `false` stops following.
    follow: bool,
}

impl FollowBoard {
    /// Follows `county` (a FIPS code), or with `follow` false stops. A code the directory does
    /// not have is refused here, before anything is dialled.
    pub fn new(county: &str, follow: bool) -> Result<Self> {
        Ok(FollowBoard {
            place: crate::places::county(county)?,
            follow,
        })
    }

    /// The county.
    pub fn place(&self) -> &'static County {
        self.place
    }

    /// Whether this follows (`true`) or stops following.
    pub fn follow(&self) -> bool {
        self.follow
    }
}

impl Flow for FollowBoard {
    /// Every county this device follows now (FIPS codes, sorted), as the relay answered.
    type Output = Vec<String>;

    fn request(&self) -> Request {
        Request::FollowBoard {
            county: self.place.fips.to_owned(),
            follow: self.follow,
        }
    }

    fn finish(&self, device: &mut Device, answer: Result<Answer>) -> Result<Vec<String>> {
        let counties = expect("follow-board", answer, |answer| match answer {
            Answer::Following { counties } => Ok(counties),
            other => Err(other),
        })?;
        device.set_followed_counties(&counties)?;
        Ok(counties)
    }
}

/// Joining a group with an invite: [`Device::begin_join`] checks the link offline and decides
/// the relay, the host sends [`Join::request`] to it, and [`Join::finish`] takes the relay's
/// answer and records the membership.
#[derive(Clone, Debug)]
pub struct Join {
    /// The invite, its signature checked.
    pub invite: Invite,
    /// Its code, as the relay redeems it.
    pub code: String,
    /// Where to redeem it.
    pub relay: String,
    /// Whether a plain automerge-repo server (which enforces nothing) may stand in: only where
    /// the invite named no relay or the person named one.
    pub plain_allowed: bool,
}

/// A group joined.
#[derive(Clone, Debug, Serialize)]
pub struct Joined {
    /// The group's id.
    pub group_id: String,
    /// The role granted.
    pub role: Role,
    /// Who checked the invite: `relay`, or `device` where a plain server stood in.
    pub checked_by: &'static str,
    /// Where it was redeemed.
    pub relay: String,
}

impl Join {
    /// The request that redeems the invite for a device named `name`.
    pub fn request(&self, name: &str) -> Request {
        Request::Redeem {
            invite: self.code.clone(),
            name: name.to_owned(),
        }
    }

    /// Takes the relay's answer to [`Join::request`] (or why there was none) and records the
    /// membership, so that the next sync receives the group.
    pub fn finish(&self, device: &mut Device, answer: Result<Answer>) -> Result<Joined> {
        let (group_id, role, checked_by) = match answer {
            Err(Error::PlainRelay { .. }) if self.plain_allowed => {
                // A plain automerge-repo server enforces nothing; the invite's signature (in
                // begin_join) and its expiry are checked here, and `checked_by` says so.
                if self.invite.expires_at < now_ms() {
                    return Err(Error::NotAllowed {
                        reason: "invite refused: it has expired".into(),
                    });
                }
                (self.invite.group.clone(), self.invite.role, "device")
            }
            answer => {
                let (group, role) = expect("redeem", answer, |answer| match answer {
                    Answer::Joined { group, role } => Ok((group, role)),
                    other => Err(other),
                })?;
                (group, role, "relay")
            }
        };
        device.joined_group(&group_id, role)?;
        Ok(Joined {
            group_id,
            role,
            checked_by,
            relay: self.relay.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKey;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const RELAY: &str = "ws://relay.example.org:7878/v1/sync";

    /// A new device in its own directory (kept alive beside it).
    fn device(name: &str) -> Result<(tempfile::TempDir, Device)> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            action: "creating a directory",
            path: std::env::temp_dir(),
            source,
        })?;
        let device = Device::init(dir.path(), name, &StoreKey::from_bytes([7; 32]))?;
        Ok((dir, device))
    }

    /// A refusal, as `net::request` gives it.
    fn refused() -> Result<Answer> {
        Err(Error::NotAllowed {
            reason: "wrong sign-up code".into(),
        })
    }

    /// `flow` sends `request`; answered `good` it gives `expected`; answered `bad` it fails
    /// naming the request `name` and the answer `bad_kind`; a refusal comes back as it was.
    fn check<F>(
        flow: F,
        request: Request,
        good: Answer,
        expected: F::Output,
        name: &str,
        bad: Answer,
        bad_kind: &str,
    ) -> TestResult
    where
        F: Flow,
        F::Output: PartialEq + std::fmt::Debug,
    {
        let (_dir, mut d) = device("phone")?;
        assert_eq!(flow.request(), request);
        assert_eq!(flow.finish(&mut d, Ok(good))?, expected);
        match flow.finish(&mut d, Ok(bad)) {
            Err(Error::UnexpectedAnswer { request, answer }) => {
                assert_eq!((request, answer), (name, bad_kind));
            }
            other => panic!("expected an unexpected-answer error, got {other:?}"),
        }
        match flow.finish(&mut d, refused()) {
            Err(Error::NotAllowed { reason }) => assert_eq!(reason, "wrong sign-up code"),
            other => panic!("expected the refusal, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn sign_up_takes_done() -> TestResult {
        check(
            SignUp {
                code: "c0de".into(),
            },
            Request::SignUp {
                code: "c0de".into(),
            },
            Answer::Done,
            (),
            "sign-up",
            Answer::Following { counties: vec![] },
            "following",
        )
    }

    #[test]
    fn remove_member_takes_done() -> TestResult {
        let flow = RemoveMember {
            group: "g".into(),
            device: "d".into(),
        };
        let request = Request::RemoveMember {
            group: "g".into(),
            device: "d".into(),
        };
        let token = Answer::Token {
            token: "t".into(),
            expires_at: 1,
        };
        check(
            flow,
            request,
            Answer::Done,
            (),
            "remove-member",
            token,
            "token",
        )
    }

    #[test]
    fn mint_token_takes_a_token() -> TestResult {
        let flow = MintToken {
            group: "g".into(),
            ttl_secs: 60,
        };
        let request = Request::MintToken {
            group: "g".into(),
            ttl_secs: 60,
        };
        let good = Answer::Token {
            token: "t0k".into(),
            expires_at: 42,
        };
        let expected = Token {
            token: "t0k".into(),
            expires_at: 42,
        };
        check(
            flow,
            request,
            good,
            expected,
            "mint-token",
            Answer::Done,
            "done",
        )
    }

    #[test]
    fn campaign_officials_take_officials() -> TestResult {
        let filter = OfficialFilter {
            state: Some("CA".into()),
            ..OfficialFilter::default()
        };
        let flow = CampaignOfficials {
            filter: filter.clone(),
        };
        let request = Request::CampaignOfficials { filter };
        let good = Answer::Officials { officials: vec![] };
        let bad = Answer::DashboardLink {
            code: "c".into(),
            expires_at: 1,
        };
        check(
            flow,
            request,
            good,
            vec![],
            "campaign-officials",
            bad,
            "dashboard-link",
        )
    }

    /// An official's page with nothing reported.
    fn detail() -> OfficialDetail {
        OfficialDetail {
            official: Official {
                key: "06065/sheriff".into(),
                county: "06065".into(),
                county_name: "Riverside, CA".into(),
                state: "CA".into(),
                office: crate::schema::vocab::Office::Sheriff,
                place: None,
                name: "A. Sheriff".into(),
                title: "Sheriff".into(),
                groups: vec!["Riverside".into()],
                answers: vec![],
            },
            reports: vec![],
            meetings: vec![],
        }
    }

    #[test]
    fn campaign_official_takes_an_official() -> TestResult {
        let detail = detail();
        let flow = CampaignOfficial {
            key: "06065/sheriff".into(),
        };
        let request = Request::CampaignOfficial {
            key: "06065/sheriff".into(),
        };
        let good = Answer::Official {
            detail: Box::new(detail.clone()),
        };
        let bad = Answer::Officials { officials: vec![] };
        check(
            flow,
            request,
            good,
            detail,
            "campaign-official",
            bad,
            "officials",
        )
    }

    #[test]
    fn dashboard_link_takes_a_code_and_makes_the_link() -> TestResult {
        let good = Answer::DashboardLink {
            code: "abc".into(),
            expires_at: 9,
        };
        let expected = DashboardSignIn {
            code: "abc".into(),
            expires_at: 9,
        };
        assert_eq!(
            expected.link("wss://relay.example.org/v1/sync")?,
            "https://relay.example.org/campaign/login?code=abc"
        );
        assert_eq!(
            expected.link(RELAY)?,
            "http://relay.example.org:7878/campaign/login?code=abc"
        );
        let bad = Answer::Official {
            detail: Box::new(detail()),
        };
        check(
            DashboardLink,
            Request::DashboardLink,
            good,
            expected,
            "dashboard-link",
            bad,
            "official",
        )
    }

    #[test]
    fn follow_board_records_the_counties_the_relay_answers() -> TestResult {
        let (_dir, mut d) = device("phone")?;
        assert!(matches!(
            FollowBoard::new("99999", true),
            Err(Error::NotFound { .. } | Error::Invalid { .. })
        ));
        let flow = FollowBoard::new("06065", true)?;
        assert_eq!(
            flow.request(),
            Request::FollowBoard {
                county: "06065".into(),
                follow: true,
            }
        );
        let answer = Answer::Following {
            counties: vec!["06037".into(), "06065".into()],
        };
        assert_eq!(flow.finish(&mut d, Ok(answer))?, ["06037", "06065"]);
        assert_eq!(d.followed_counties()?, ["06037", "06065"]);

        // Stopping: an unexpected answer or a refusal writes nothing.
        let stop = FollowBoard::new("06037", false)?;
        match stop.finish(&mut d, Ok(Answer::Done)) {
            Err(e @ Error::UnexpectedAnswer { .. }) => assert_eq!(
                e.to_string(),
                "the relay answered the follow-board request unexpectedly (with \"done\")"
            ),
            other => panic!("expected an unexpected-answer error, got {other:?}"),
        }
        assert!(matches!(
            stop.finish(&mut d, refused()),
            Err(Error::NotAllowed { .. })
        ));
        assert_eq!(d.followed_counties()?, ["06037", "06065"]);
        let answer = Answer::Following {
            counties: vec!["06065".into()],
        };
        assert_eq!(stop.finish(&mut d, Ok(answer))?, ["06065"]);
        assert_eq!(d.followed_counties()?, ["06065"]);
        Ok(())
    }

    /// A lead's group and an invite to it, and a new device that has begun joining with it.
    fn joining() -> Result<(Vec<tempfile::TempDir>, Device, Join)> {
        let (lead_dir, mut lead) = device("lead")?;
        let group = lead.create_group("Riverside", None)?;
        let (_, code) = lead.create_invite(&group, Role::Canvasser, 1, 60_000, Some(RELAY))?;
        let (dir, joiner) = device("phone")?;
        let join = joiner.begin_join(&code, None)?;
        Ok((vec![lead_dir, dir], joiner, join))
    }

    #[test]
    fn join_records_the_group_the_relay_admits_to() -> TestResult {
        let (_dirs, mut d, join) = joining()?;
        let group = join.invite.group.clone();
        assert_eq!(join.relay, RELAY);
        assert_eq!(
            join.request("phone"),
            Request::Redeem {
                invite: join.code.clone(),
                name: "phone".into(),
            }
        );
        let answer = Answer::Joined {
            group: group.clone(),
            role: Role::Canvasser,
        };
        let joined = join.finish(&mut d, Ok(answer))?;
        assert_eq!(
            (joined.group_id.as_str(), joined.role, joined.checked_by),
            (group.as_str(), Role::Canvasser, "relay")
        );
        let groups = d.groups()?;
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].group_id.as_str(), groups[0].role.as_str()),
            (group.as_str(), "canvasser")
        );
        Ok(())
    }

    #[test]
    fn join_refuses_an_unexpected_answer_and_passes_refusals_through() -> TestResult {
        let (_dirs, mut d, join) = joining()?;
        match join.finish(&mut d, Ok(Answer::Done)) {
            Err(Error::UnexpectedAnswer { request, answer }) => {
                assert_eq!((request, answer), ("redeem", "done"));
            }
            other => panic!("expected an unexpected-answer error, got {other:?}"),
        }
        assert!(matches!(
            join.finish(&mut d, refused()),
            Err(Error::NotAllowed { reason }) if reason == "wrong sign-up code"
        ));
        // The invite named its relay: a plain server may not stand in for it.
        let plain = || {
            Err(Error::PlainRelay {
                relay: RELAY.into(),
            })
        };
        assert!(matches!(
            join.finish(&mut d, plain()),
            Err(Error::PlainRelay { .. })
        ));
        assert!(d.groups()?.is_empty());

        // Where the person named a plain server, the device checks the invite itself.
        let mut named = join.clone();
        named.plain_allowed = true;
        let joined = named.finish(&mut d, plain())?;
        assert_eq!(
            (joined.group_id.as_str(), joined.checked_by),
            (join.invite.group.as_str(), "device")
        );
        let (_dirs, mut other, mut expired) = joining()?;
        expired.plain_allowed = true;
        expired.invite.expires_at = now_ms() - 1;
        assert!(matches!(
            expired.finish(&mut other, plain()),
            Err(Error::NotAllowed { reason }) if reason.contains("expired")
        ));
        assert!(other.groups()?.is_empty());
        Ok(())
    }
}
