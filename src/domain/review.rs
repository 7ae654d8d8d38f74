//! The post-incident review form: its answers and the rules for a draft and
//! a submitted review. Pure; the store is `db::reviews`.

use std::fmt;
use std::str::FromStr;

use super::FieldError;

pub const MAX_TEXT_CHARS: usize = 10_000;

macro_rules! choice {
    ($(#[$doc:meta])* $name:ident, $field:literal, $help:literal, { $($variant:ident = $code:literal : $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            fn from_str(s: &str) -> Result<Self, FieldError> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == s.trim())
                    .ok_or_else(|| FieldError::new($field, $help))
            }
        }
    };
}
pub(crate) use choice;

choice!(
    /// Was the right model linked?
    ModelLinked, "model_linked", "choose yes, wrong model, no model existed or not needed", {
        Yes = "yes": "yes, the right model",
        WrongModel = "wrong_model": "a wrong model",
        NoModel = "no_model": "no model existed",
        NotNeeded = "not_needed": "no model was needed",
    }
);

choice!(
    /// Did the model work?
    ModelWorked, "model_worked", "choose worked, a step was wrong or missing, or not followed", {
        Worked = "worked": "it worked",
        StepWrong = "step_wrong": "a step was wrong or missing",
        NotFollowed = "not_followed": "it was not followed",
    }
);

choice!(
    /// Was the escalation right?
    EscalationVerdict, "escalation", "choose too early, right, too late or none needed", {
        TooEarly = "too_early": "too early",
        Right = "right": "at the right time",
        TooLate = "too_late": "too late",
        NoneNeeded = "none_needed": "none was needed",
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Draft,
    Submitted,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Draft => "draft",
            ReviewStatus::Submitted => "submitted",
        }
    }
}

/// The form as typed: every answer optional while it is a draft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewInput {
    pub what_happened: String,
    pub model_linked: String,
    pub model_worked: String,
    pub step_detail: String,
    pub escalation: String,
    pub recommendations: String,
}

/// The form checked: a draft may leave answers out; a submitted review has
/// them all, and "a step was wrong" says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewAnswers {
    pub what_happened: String,
    pub model_linked: Option<ModelLinked>,
    pub model_worked: Option<ModelWorked>,
    pub step_detail: String,
    pub escalation: Option<EscalationVerdict>,
    pub recommendations: String,
}

fn text(field: &'static str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn optional<T: FromStr<Err = FieldError>>(value: &str) -> Result<Option<T>, FieldError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        value.parse().map(Some)
    }
}

impl ReviewAnswers {
    pub fn check(input: &ReviewInput, status: ReviewStatus) -> Result<Self, FieldError> {
        let answers = ReviewAnswers {
            what_happened: text("what_happened", &input.what_happened)?,
            model_linked: optional(&input.model_linked)?,
            model_worked: optional(&input.model_worked)?,
            step_detail: text("step_detail", &input.step_detail)?,
            escalation: optional(&input.escalation)?,
            recommendations: text("recommendations", &input.recommendations)?,
        };
        if status == ReviewStatus::Draft {
            return Ok(answers);
        }
        if answers.what_happened.is_empty() {
            return Err(FieldError::new(
                "what_happened",
                "say in a sentence what happened",
            ));
        }
        if answers.model_linked.is_none() {
            return Err(FieldError::new(
                "model_linked",
                "say whether the right model was linked",
            ));
        }
        if answers.model_worked.is_none() {
            return Err(FieldError::new(
                "model_worked",
                "say whether the model worked",
            ));
        }
        if answers.model_worked == Some(ModelWorked::StepWrong) && answers.step_detail.is_empty() {
            return Err(FieldError::new(
                "step_detail",
                "say which step was wrong or missing",
            ));
        }
        if answers.escalation.is_none() {
            return Err(FieldError::new(
                "escalation",
                "say whether the escalation was right",
            ));
        }
        Ok(answers)
    }

    /// "Model worked, nothing to add": the one-action review of a routine
    /// ticket, allowed only when a linked model resolved it.
    pub fn routine(resolved_by_model: bool, escalated: bool) -> Result<Self, FieldError> {
        if !resolved_by_model {
            return Err(FieldError::new(
                "routine",
                "no linked model resolved this ticket, so it is not routine: fill in the form",
            ));
        }
        Ok(ReviewAnswers {
            what_happened: "Routine: the linked model resolved it.".to_owned(),
            model_linked: Some(ModelLinked::Yes),
            model_worked: Some(ModelWorked::Worked),
            step_detail: String::new(),
            escalation: Some(if escalated {
                EscalationVerdict::Right
            } else {
                EscalationVerdict::NoneNeeded
            }),
            recommendations: String::new(),
        })
    }

    /// One paragraph for the ticket's journal.
    pub fn summary(&self) -> String {
        let or_dash = |s: Option<&'static str>| s.unwrap_or("—");
        let mut out = format!(
            "Review submitted. What happened: {}\nModel linked: {}. Model: {}{}. Escalation: {}.",
            self.what_happened,
            or_dash(self.model_linked.map(ModelLinked::label)),
            or_dash(self.model_worked.map(ModelWorked::label)),
            if self.step_detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.step_detail)
            },
            or_dash(self.escalation.map(EscalationVerdict::label)),
        );
        if !self.recommendations.is_empty() {
            out.push_str("\nRecommendations: ");
            out.push_str(&self.recommendations);
        }
        out
    }
}

/// "3 d 4 h", "2 h 15 min", "40 min", "under a minute": how long a ticket
/// took to reach a point.
pub fn describe_duration(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        use chrono::Duration;
        assert_eq!(describe_duration(Duration::seconds(20)), "under a minute");
        assert_eq!(describe_duration(Duration::minutes(40)), "40 min");
        assert_eq!(describe_duration(Duration::minutes(135)), "2 h 15 min");
        assert_eq!(describe_duration(Duration::hours(76)), "3 d 4 h");
        assert_eq!(describe_duration(Duration::hours(-1)), "under a minute");
    }

    fn complete() -> ReviewInput {
        ReviewInput {
            what_happened: "Disk filled with WAL.".into(),
            model_linked: "yes".into(),
            model_worked: "worked".into(),
            step_detail: String::new(),
            escalation: "none_needed".into(),
            recommendations: String::new(),
        }
    }

    #[test]
    fn a_draft_may_leave_answers_out() {
        let empty = ReviewInput::default();
        let draft = ReviewAnswers::check(&empty, ReviewStatus::Draft).unwrap();
        assert_eq!(draft.model_linked, None);
        let err = ReviewAnswers::check(&empty, ReviewStatus::Submitted).unwrap_err();
        assert_eq!(err.field, "what_happened");
    }

    #[test]
    fn a_submitted_review_answers_everything() {
        let ok = ReviewAnswers::check(&complete(), ReviewStatus::Submitted).unwrap();
        assert_eq!(ok.escalation, Some(EscalationVerdict::NoneNeeded));
        for (field, blank) in [
            (
                "model_linked",
                ReviewInput {
                    model_linked: String::new(),
                    ..complete()
                },
            ),
            (
                "model_worked",
                ReviewInput {
                    model_worked: String::new(),
                    ..complete()
                },
            ),
            (
                "escalation",
                ReviewInput {
                    escalation: String::new(),
                    ..complete()
                },
            ),
        ] {
            let err = ReviewAnswers::check(&blank, ReviewStatus::Submitted).unwrap_err();
            assert_eq!(err.field, field);
        }
    }

    #[test]
    fn a_wrong_step_must_be_named() {
        let input = ReviewInput {
            model_worked: "step_wrong".into(),
            ..complete()
        };
        let err = ReviewAnswers::check(&input, ReviewStatus::Submitted).unwrap_err();
        assert_eq!(err.field, "step_detail");
        let named = ReviewInput {
            step_detail: "step 2 names the wrong volume".into(),
            ..input
        };
        assert!(ReviewAnswers::check(&named, ReviewStatus::Submitted).is_ok());
    }

    #[test]
    fn unknown_answers_are_refused_even_in_a_draft() {
        let input = ReviewInput {
            escalation: "whenever".into(),
            ..complete()
        };
        let err = ReviewAnswers::check(&input, ReviewStatus::Draft).unwrap_err();
        assert_eq!(err.field, "escalation");
    }

    #[test]
    fn routine_needs_a_model_that_resolved_the_ticket() {
        assert_eq!(
            ReviewAnswers::routine(false, false).unwrap_err().field,
            "routine"
        );
        let r = ReviewAnswers::routine(true, true).unwrap();
        assert_eq!(r.escalation, Some(EscalationVerdict::Right));
        assert_eq!(
            ReviewAnswers::routine(true, false).unwrap().escalation,
            Some(EscalationVerdict::NoneNeeded)
        );
    }
}
