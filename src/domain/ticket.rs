//! Tickets: priority, status and its lifecycle, journal entry kinds, model
//! link outcomes and escalation answers. Pure rules with their tests.

use std::fmt;
use std::str::FromStr;

use super::FieldError;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(transparent)]
pub struct TicketId(pub i64);

impl From<i64> for TicketId {
    fn from(id: i64) -> Self {
        TicketId(id)
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// P1 would trigger an out-of-hours call; P4 can wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    pub const ALL: [Priority; 4] = [Priority(1), Priority(2), Priority(3), Priority(4)];

    pub fn new(level: i16) -> Result<Self, FieldError> {
        match level {
            1..=4 => Ok(Priority(level as u8)),
            _ => Err(FieldError::new("priority", "choose P1, P2, P3 or P4")),
        }
    }

    pub fn level(self) -> i16 {
        i16::from(self.0)
    }

    pub fn describe(self) -> &'static str {
        match self.0 {
            1 => "P1 — would trigger an out-of-hours call",
            2 => "P2 — urgent, working hours",
            3 => "P3 — normal",
            _ => "P4 — low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl FromStr for Priority {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let digits = s.strip_prefix(['P', 'p']).unwrap_or(s);
        digits
            .parse::<i16>()
            .map_err(|_| FieldError::new("priority", "choose P1, P2, P3 or P4"))
            .and_then(Priority::new)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Triaged,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Triaged,
        Status::InProgress,
        Status::WaitingOnCustomer,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Triaged => "triaged",
            Status::InProgress => "in_progress",
            Status::WaitingOnCustomer => "waiting_on_customer",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::Triaged => "Triaged",
            Status::InProgress => "In progress",
            Status::WaitingOnCustomer => "Waiting on customer",
            Status::Resolved => "Resolved",
            Status::Closed => "Closed",
        }
    }

    /// Open tickets still need work.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }

    /// The lifecycle as teams work: new → triaged → in progress ⇄ waiting
    /// on customer; any open ticket can be resolved (straight from new as
    /// a false alarm, with a reason); a resolved ticket is closed or
    /// reopened (back in progress). Every move is recorded by the service.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::New => &[Status::Triaged, Status::InProgress, Status::Resolved],
            Status::Triaged => &[
                Status::InProgress,
                Status::WaitingOnCustomer,
                Status::Resolved,
            ],
            Status::InProgress => &[Status::WaitingOnCustomer, Status::Resolved],
            Status::WaitingOnCustomer => &[Status::InProgress, Status::Resolved],
            Status::Resolved => &[Status::Closed, Status::InProgress],
            Status::Closed => &[],
        }
    }

    /// A move that needs a reason written down: resolving a ticket nobody
    /// has triaged says it was a false alarm, and why.
    pub fn needs_reason(self, to: Status) -> bool {
        self == Status::New && to == Status::Resolved
    }

    /// What the button for a move says.
    pub fn action_label(self, to: Status) -> &'static str {
        match (self, to) {
            (Status::New, Status::Resolved) => "Resolve as false alarm",
            (Status::Resolved, Status::InProgress) => "Reopen",
            (_, to) => to.label(),
        }
    }

    /// Whether the change is allowed (with the reason it needs), with a
    /// message saying why not.
    pub fn transition(self, to: Status, reason: &str) -> Result<Status, FieldError> {
        if self.next().contains(&to) {
            if self.needs_reason(to) && reason.trim().is_empty() {
                return Err(FieldError::new(
                    "resolution",
                    "say why this was a false alarm before resolving it",
                ));
            }
            return Ok(to);
        }
        let allowed: Vec<&str> = self.next().iter().map(|s| s.label()).collect();
        let message = if allowed.is_empty() {
            format!(
                "a {} ticket cannot change status",
                self.label().to_lowercase()
            )
        } else {
            format!(
                "a ticket cannot go from {} to {}; from {} it can go to {}",
                self.label().to_lowercase(),
                to.label().to_lowercase(),
                self.label().to_lowercase(),
                allowed.join(" or ").to_lowercase()
            )
        };
        Err(FieldError::new("status", message))
    }
}

/// In JSON as its stored name (`in_progress`).
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Status {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| FieldError::new("status", format!("unknown status {:?}", s.trim())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Reply,
    Note,
    StatusChange,
    Assignment,
    ModelLink,
    Escalation,
    Triage,
    System,
    /// A correction of a ticket field, with its value before and after.
    Edit,
    /// A step of the linked model ticked (or unticked) on the checklist.
    Step,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Reply => "reply",
            EntryKind::Note => "note",
            EntryKind::StatusChange => "status_change",
            EntryKind::Assignment => "assignment",
            EntryKind::ModelLink => "model_link",
            EntryKind::Escalation => "escalation",
            EntryKind::Triage => "triage",
            EntryKind::System => "system",
            EntryKind::Edit => "edit",
            EntryKind::Step => "step",
        }
    }
}

/// How a linked model served the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Resolved,
    Partial,
    NoFit,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Resolved, Outcome::Partial, Outcome::NoFit];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Partial => "partial",
            Outcome::NoFit => "no_fit",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved by the model",
            Outcome::Partial => "the model helped partly",
            Outcome::NoFit => "no model fits",
        }
    }
}

impl FromStr for Outcome {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "outcome",
                    "choose what the model did: resolved it, helped partly, or no model fits",
                )
            })
    }
}

/// The answer to "Have you followed the incident model?"
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    Yes { step_reached: i32 },
    No { why: String },
    NoModel,
}

impl Followed {
    /// From the escalation form's fields; every answer needs its detail.
    pub fn from_form(answer: &str, step: &str, why: &str) -> Result<Self, FieldError> {
        match answer.trim() {
            "yes" => step
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .map(|step_reached| Followed::Yes { step_reached })
                .ok_or_else(|| {
                    FieldError::new("step_reached", "say which step you reached (a number)")
                }),
            "no" if !why.trim().is_empty() => Ok(Followed::No {
                why: why.trim().to_owned(),
            }),
            "no" => Err(FieldError::new(
                "reason",
                "say why the model was not followed",
            )),
            "no_model" => Ok(Followed::NoModel),
            _ => Err(FieldError::new(
                "followed_model",
                "answer \"Have you followed the incident model?\"",
            )),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Followed::Yes { .. } => "yes",
            Followed::No { .. } => "no",
            Followed::NoModel => "no_model",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Followed::Yes { step_reached } => format!("followed the model to step {step_reached}"),
            Followed::No { why } => format!("did not follow the model: {why}"),
            Followed::NoModel => "there is no model for this".to_owned(),
        }
    }
}

/// How long a ticket has waited, as a queue shows it: the largest unit
/// only ("45 min", "3 h", "2 d"), so a column of ages reads at a glance.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => "just now".to_owned(),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h", s / 3_600),
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_show_the_largest_unit() {
        use super::age;
        assert_eq!(age(-5), "just now");
        assert_eq!(age(59), "just now");
        assert_eq!(age(60), "1 min");
        assert_eq!(age(3_599), "59 min");
        assert_eq!(age(3_600), "1 h");
        assert_eq!(age(86_399), "23 h");
        assert_eq!(age(86_400 * 3 + 5), "3 d");
    }

    use super::*;

    #[test]
    fn the_lifecycle_allows_exactly_these_moves() {
        use Status::*;
        let allowed = [
            (New, Triaged),
            (New, InProgress),
            (New, Resolved),
            (Triaged, InProgress),
            (Triaged, WaitingOnCustomer),
            (Triaged, Resolved),
            (InProgress, WaitingOnCustomer),
            (WaitingOnCustomer, InProgress),
            (InProgress, Resolved),
            (WaitingOnCustomer, Resolved),
            (Resolved, Closed),
            (Resolved, InProgress),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let ok = from.transition(to, "false alarm").is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn every_open_status_can_be_resolved_and_a_resolved_one_reopened() {
        for from in Status::ALL.into_iter().filter(|s| s.is_open()) {
            assert!(from.next().contains(&Status::Resolved), "{from:?}");
        }
        assert_eq!(
            Status::Resolved.transition(Status::InProgress, ""),
            Ok(Status::InProgress)
        );
        assert_eq!(Status::Resolved.action_label(Status::InProgress), "Reopen");
    }

    #[test]
    fn a_false_alarm_needs_its_reason() {
        let err = Status::New.transition(Status::Resolved, "  ").unwrap_err();
        assert_eq!(err.field, "resolution");
        assert!(err.message.contains("false alarm"), "{}", err.message);
        assert_eq!(
            Status::New.transition(Status::Resolved, "test alert from staging"),
            Ok(Status::Resolved)
        );
        // Only the shortcut from new needs one.
        assert_eq!(
            Status::InProgress.transition(Status::Resolved, ""),
            Ok(Status::Resolved)
        );
    }

    #[test]
    fn a_refused_move_says_where_the_ticket_can_go() {
        let err = Status::Resolved
            .transition(Status::WaitingOnCustomer, "")
            .unwrap_err();
        assert_eq!(err.field, "status");
        assert_eq!(
            err.message,
            "a ticket cannot go from resolved to waiting on customer; from resolved it can go to closed or in progress"
        );
        let closed = Status::Closed
            .transition(Status::InProgress, "")
            .unwrap_err();
        assert!(
            closed
                .message
                .contains("closed ticket cannot change status")
        );
    }

    #[test]
    fn priorities_parse_with_or_without_the_p() {
        assert_eq!("P1".parse::<Priority>().unwrap().level(), 1);
        assert_eq!("3".parse::<Priority>().unwrap().to_string(), "P3");
        for bad in ["P0", "5", "high", ""] {
            assert!(bad.parse::<Priority>().is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_and_open_ones_are_known() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!(Status::WaitingOnCustomer.is_open());
        assert!(!Status::Resolved.is_open());
    }

    #[test]
    fn an_escalation_answer_needs_its_detail() {
        assert_eq!(
            Followed::from_form("yes", "3", "").unwrap(),
            Followed::Yes { step_reached: 3 }
        );
        assert_eq!(
            Followed::from_form("yes", "", "").unwrap_err().field,
            "step_reached"
        );
        assert_eq!(
            Followed::from_form("no", "", " ").unwrap_err().field,
            "reason"
        );
        assert!(matches!(
            Followed::from_form("no", "", "model is wrong"),
            Ok(Followed::No { .. })
        ));
        assert_eq!(
            Followed::from_form("no_model", "", "").unwrap(),
            Followed::NoModel
        );
        assert_eq!(
            Followed::from_form("", "", "").unwrap_err().field,
            "followed_model"
        );
    }
}
