//! The Freedom Cities model rules: their codes, titles and our one-line summaries, as data.

use crate::schema::vocab::vocabulary;

vocabulary! {
    /// The code of one model rule.
    RuleCode, "rule code" {
        /// Judicial Warrant.
        R1 = "R1",
        /// No Facilitation.
        R2 = "R2",
        /// Defined Access/Interview.
        R3 = "R3",
        /// Clear Identification.
        R4 = "R4",
        /// Don't Ask.
        R5 = "R5",
        /// Privacy Protection.
        R6 = "R6",
        /// Discriminatory Surveillance Prohibition.
        R7 = "R7",
        /// Redress.
        R8 = "R8",
        /// Fair and Impartial Policing.
        R9 = "R9",
        /// 1373 (optional).
        R1373 = "R1373",
    }
}

/// One model rule as the campaign names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Its code, e.g. `R1`.
    pub code: RuleCode,
    /// Its title in the model rules.
    pub title: &'static str,
    /// Our one-line summary.
    pub summary: &'static str,
}

/// The catalogue of model rules, in their published order.
pub const RULES: &[Rule] = &[
    Rule {
        code: RuleCode::R1,
        title: "Judicial Warrant",
        summary: "no holding anyone for immigration agents without a judge's warrant",
    },
    Rule {
        code: RuleCode::R2,
        title: "No Facilitation",
        summary: "no local money or staff spent doing federal immigration enforcement",
    },
    Rule {
        code: RuleCode::R3,
        title: "Defined Access/Interview",
        summary: "immigration agents get no free run of local jails or people in custody",
    },
    Rule {
        code: RuleCode::R4,
        title: "Clear Identification",
        summary: "agents must say who they are before questioning anyone",
    },
    Rule {
        code: RuleCode::R5,
        title: "Don't Ask",
        summary: "officers don't ask about immigration status unless a local crime needs it",
    },
    Rule {
        code: RuleCode::R6,
        title: "Privacy Protection",
        summary: "no handing out addresses, release dates or other personal data to agents",
    },
    Rule {
        code: RuleCode::R7,
        title: "Discriminatory Surveillance Prohibition",
        summary: "no surveillance of people or places for their religion, origin or status",
    },
    Rule {
        code: RuleCode::R8,
        title: "Redress",
        summary: "a complaint process and a remedy when the rules are broken",
    },
    Rule {
        code: RuleCode::R9,
        title: "Fair and Impartial Policing",
        summary: "police action needs a specific, non-discriminatory reason",
    },
    Rule {
        code: RuleCode::R1373,
        title: "1373 (optional)",
        summary: "states that the policy stays within 8 U.S.C. 1373 (status information only)",
    },
];

impl RuleCode {
    /// This rule's catalogue entry.
    pub fn rule(self) -> &'static Rule {
        // RULES lists every RuleCode in declaration order; the test below holds it to that.
        &RULES[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_every_code_once_in_order() {
        assert_eq!(RULES.len(), RuleCode::ALL.len());
        for (rule, code) in RULES.iter().zip(RuleCode::ALL) {
            assert_eq!(rule.code, *code);
            assert_eq!(code.rule().code, *code);
        }
    }

    #[test]
    fn an_unknown_rule_code_is_refused_by_name() {
        let err = "R10".parse::<RuleCode>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid rule code \"R10\": expected one of R1, R2, R3, R4, R5, R6, R7, R8, R9, R1373"
            )
        );
    }
}
