//! The closed vocabularies of the documents (statuses, positions, result codes...), each with
//! exactly one spelling shared by documents, the index, the CLI and JSON.

/// Defines an enum whose variants are stored as fixed strings: in automerge documents, in index
/// rows, on the command line and in JSON. Parsing an unknown spelling is an error that lists
/// every accepted one.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in catalogue order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every accepted spelling, in catalogue order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The stored spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::Error::InvalidValue {
                        what: $what,
                        value: s.to_owned(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        /// Index rows read it back from its stored spelling; one this build does not know
        /// (written by a newer build) fails that row with [`crate::Error::InvalidValue`],
        /// which the index's list reads leave out rather than failing the whole read.
        impl rusqlite::types::FromSql for $name {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                v.as_str()?
                    .parse()
                    .map_err(|e: crate::Error| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;

            fn reconcile<R: autosurgeon::Reconciler>(&self, mut r: R) -> Result<(), R::Error> {
                r.str(self.as_str())
            }
        }

        impl autosurgeon::Hydrate for $name {
            fn hydrate_string(s: &'_ str) -> Result<Self, autosurgeon::HydrateError> {
                s.parse().map_err(|_| {
                    autosurgeon::HydrateError::unexpected(
                        concat!("a ", $what),
                        format!("{s:?}"),
                    )
                })
            }
        }
    };
}

vocabulary! {
    /// The level of government a target (an official) answers to.
    Level, "level" {
        /// A state agency or official.
        State = "state",
        /// A county, e.g. a sheriff.
        County = "county",
        /// A city, e.g. a police chief or mayor.
        City = "city",
        /// A town or township.
        Town = "town",
        /// A precinct of a big city's police.
        Precinct = "precinct",
        /// A campus police force or school board.
        Campus = "campus",
        /// Anything else.
        Other = "other",
    }
}

vocabulary! {
    /// The office a target holds: with a county (and a city or precinct where the office
    /// needs one) it names "the same official" across groups.
    Office, "office" {
        /// A county sheriff.
        Sheriff = "sheriff",
        /// A city's chief of police.
        PoliceChief = "police-chief",
        /// A big city's precinct commander.
        PrecinctCommander = "precinct-commander",
        /// A mayor.
        Mayor = "mayor",
        /// A city or town council.
        CityCouncil = "city-council",
        /// A state legislator.
        StateLegislator = "state-legislator",
        /// A school board.
        SchoolBoard = "school-board",
        /// Any other office.
        Other = "other",
    }
}

impl Office {
    /// The title to show when a target gives none, e.g. "Sheriff".
    pub fn title(self) -> &'static str {
        match self {
            Office::Sheriff => "Sheriff",
            Office::PoliceChief => "Chief of Police",
            Office::PrecinctCommander => "Precinct Commander",
            Office::Mayor => "Mayor",
            Office::CityCouncil => "City Council",
            Office::StateLegislator => "State Legislator",
            Office::SchoolBoard => "School Board",
            Office::Other => "Official",
        }
    }

    /// The level of government the office answers to.
    pub fn level(self) -> Level {
        match self {
            Office::Sheriff => Level::County,
            Office::PoliceChief | Office::Mayor | Office::CityCouncil => Level::City,
            Office::PrecinctCommander => Level::Precinct,
            Office::StateLegislator => Level::State,
            Office::SchoolBoard => Level::Campus,
            Office::Other => Level::Other,
        }
    }
}

vocabulary! {
    /// Who beyond the group may see a meeting: no one, the campaign (nearby groups' leads and
    /// members through their county's board, campaign staff), or the public map.
    #[derive(Default)]
    Visibility, "visibility" {
        /// The group alone; the campaign sees an official meeting's status and time, never
        /// its place.
        #[default]
        Private = "private",
        /// The campaign sees its place too.
        Shared = "shared",
        /// Anyone: the public map lists it.
        Public = "public",
    }
}

vocabulary! {
    /// Whether a meeting is the group's own or one with an official.
    MeetingKind, "meeting kind" {
        /// The group's own organizing meeting.
        Organizing = "organizing",
        /// A meeting with an official (a target).
        Official = "official",
    }
}

vocabulary! {
    /// Where a meeting stands: draft -> requested -> scheduled -> held, or declined, no response,
    /// cancelled.
    MeetingStatus, "meeting status" {
        /// Being planned by the group.
        Draft = "draft",
        /// Asked for; waiting for an answer.
        Requested = "requested",
        /// A time is agreed.
        Scheduled = "scheduled",
        /// It happened.
        Held = "held",
        /// The official said no.
        Declined = "declined",
        /// The official never answered.
        NoResponse = "no-response",
        /// Called off.
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// Whether a rule is already the agency's policy.
    ExistingPolicy, "existing policy" {
        /// Written policy.
        InPlace = "in-place",
        /// Done in practice, not written.
        InPractice = "in-practice",
        /// Partly covered.
        Partial = "partial",
        /// Not policy.
        None = "none",
        /// Not known yet.
        Unknown = "unknown",
    }
}

vocabulary! {
    /// What the official said they will do about a rule.
    Position, "position" {
        /// Already in place.
        AlreadyInPlace = "already-in-place",
        /// Will support adopting it.
        WillSupport = "will-support",
        /// Supports it with changes (see the conditions).
        SupportsWithChanges = "supports-with-changes",
        /// Will consider it.
        WillConsider = "will-consider",
        /// Opposes it.
        Opposes = "opposes",
        /// Gave no answer.
        NoAnswer = "no-answer",
    }
}

vocabulary! {
    /// The outcome of a knock on a door.
    ContactResult, "contact result" {
        /// Talked with someone.
        Talked = "talked",
        /// Nobody answered.
        NotHome = "not-home",
        /// Declined to talk.
        Refused = "refused",
        /// The person moved away.
        Moved = "moved",
        /// The door could not be reached.
        Inaccessible = "inaccessible",
        /// No shared language.
        LanguageBarrier = "language-barrier",
        /// The address was wrong.
        WrongAddress = "wrong-address",
        /// Something else (see the note).
        Other = "other",
    }
}

vocabulary! {
    /// What a contacted person would like to do next.
    Interest, "interest" {
        /// Come to a meeting.
        Attend = "attend",
        /// Host a meeting.
        Host = "host",
        /// Volunteer.
        Volunteer = "volunteer",
    }
}

pub(crate) use vocabulary;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_back_to_its_value() {
        for v in MeetingStatus::ALL {
            assert_eq!(v.as_str().parse::<MeetingStatus>().ok(), Some(*v));
        }
        for v in ContactResult::ALL {
            assert_eq!(v.as_str().parse::<ContactResult>().ok(), Some(*v));
        }
    }

    #[test]
    fn an_unknown_spelling_names_the_value_and_the_choices() {
        let err = "maybe".parse::<Position>().err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("invalid position \"maybe\""), "{err}");
        assert!(err.contains("will-support"), "{err}");
    }
}
