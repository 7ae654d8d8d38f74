//! Who hears of what: the notices a journal entry causes (mail to people)
//! and the webhook events it raises. Pure rules; `db::deliveries` queues
//! the rows, the delivery worker renders each through its recipient's scope.

use super::policy::Visibility;
use super::ticket::EntryKind;

/// A notification a person may get by mail; each is one preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// A public reply on a ticket one asked for or is assigned.
    PublicReply,
    /// One's ticket was resolved.
    Resolved,
    /// A ticket was assigned to one.
    Assigned,
    /// A ticket was escalated to one.
    Escalated,
    /// A new P1 arrived in one's triage week.
    NewP1,
}

impl Notice {
    pub const ALL: [Notice; 5] = [
        Notice::PublicReply,
        Notice::Resolved,
        Notice::Assigned,
        Notice::Escalated,
        Notice::NewP1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::PublicReply => "public_reply",
            Notice::Resolved => "resolved",
            Notice::Assigned => "assigned",
            Notice::Escalated => "escalated",
            Notice::NewP1 => "new_p1",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Notice::PublicReply => "Public replies on my tickets",
            Notice::Resolved => "My ticket is resolved",
            Notice::Assigned => "A ticket is assigned to me",
            Notice::Escalated => "A ticket is escalated to me",
            Notice::NewP1 => "A new P1 arrives in my triage week",
        }
    }

    /// Whether the notice can concern someone of the team only.
    pub fn is_team_only(self) -> bool {
        matches!(self, Notice::Assigned | Notice::Escalated | Notice::NewP1)
    }
}

impl std::str::FromStr for Notice {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s).ok_or(())
    }
}

/// An event a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    TicketOpened,
    PublicEntry,
    InternalEntry,
    StatusChanged,
    Escalated,
    ModelLinked,
    ReviewSubmitted,
    ImprovementChanged,
}

impl Event {
    pub const ALL: [Event; 8] = [
        Event::TicketOpened,
        Event::PublicEntry,
        Event::InternalEntry,
        Event::StatusChanged,
        Event::Escalated,
        Event::ModelLinked,
        Event::ReviewSubmitted,
        Event::ImprovementChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::TicketOpened => "ticket.opened",
            Event::PublicEntry => "entry.public",
            Event::InternalEntry => "entry.internal",
            Event::StatusChanged => "ticket.status_changed",
            Event::Escalated => "ticket.escalated",
            Event::ModelLinked => "ticket.model_linked",
            Event::ReviewSubmitted => "review.submitted",
            Event::ImprovementChanged => "improvement.changed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Event::TicketOpened => "Ticket opened",
            Event::PublicEntry => "Public entry",
            Event::InternalEntry => "Internal entry",
            Event::StatusChanged => "Status changed",
            Event::Escalated => "Escalated",
            Event::ModelLinked => "Model linked",
            Event::ReviewSubmitted => "Review submitted",
            Event::ImprovementChanged => "Improvement item changed",
        }
    }

    /// Whether a customer may see what the event carries. A subscription
    /// marked "customer-visible only" gets these events and no other.
    pub fn is_customer_visible(self) -> bool {
        matches!(
            self,
            Event::TicketOpened | Event::PublicEntry | Event::StatusChanged
        )
    }
}

impl std::str::FromStr for Event {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Event::ALL.into_iter().find(|e| e.as_str() == s).ok_or(())
    }
}

/// The people of a ticket a rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    pub author: Option<i64>,
    pub requester: i64,
    pub assignee: Option<i64>,
}

/// What a journal entry causes: notices to people (never to its author)
/// and webhook events. `to_status` is the status a status change moved
/// to, `target` the person an assignment or escalation names.
pub fn for_entry(
    kind: EntryKind,
    visibility: Visibility,
    to_status: Option<&str>,
    target: Option<i64>,
    parties: Parties,
) -> (Vec<(Notice, i64)>, Vec<Event>) {
    let mut notices = Vec::new();
    let mut events = Vec::new();
    let mut notify = |notice: Notice, person: Option<i64>| {
        if let Some(person) = person
            && Some(person) != parties.author
            && !notices.contains(&(notice, person))
        {
            notices.push((notice, person));
        }
    };
    match (kind, visibility) {
        (EntryKind::Reply, Visibility::Public) => {
            notify(Notice::PublicReply, Some(parties.requester));
            notify(Notice::PublicReply, parties.assignee);
            events.push(Event::PublicEntry);
        }
        (EntryKind::StatusChange, Visibility::Public) => {
            if to_status == Some("resolved") {
                notify(Notice::Resolved, Some(parties.requester));
            }
            events.push(Event::StatusChanged);
        }
        (EntryKind::Assignment, _) => notify(Notice::Assigned, target),
        (EntryKind::Escalation, _) => {
            notify(Notice::Escalated, target);
            events.push(Event::Escalated);
        }
        (EntryKind::ModelLink, _) => events.push(Event::ModelLinked),
        (_, Visibility::Public) => events.push(Event::PublicEntry),
        (_, Visibility::Internal) => events.push(Event::InternalEntry),
    }
    // Every entry is a public or internal entry too, for subscribers of
    // the plain entry events.
    match visibility {
        Visibility::Public if !events.contains(&Event::PublicEntry) => {
            events.push(Event::PublicEntry)
        }
        Visibility::Internal if !events.contains(&Event::InternalEntry) => {
            events.push(Event::InternalEntry)
        }
        _ => {}
    }
    (notices, events)
}

/// The wait before try number `attempts + 1`: `base` doubled per failed
/// try, at most `max`.
pub fn backoff(
    attempts: i32,
    base: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    base.saturating_mul(1u32 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const PARTIES: Parties = Parties {
        author: Some(1),
        requester: 2,
        assignee: Some(3),
    };

    #[test]
    fn an_internal_note_notifies_nobody_and_is_an_internal_event_only() {
        let (notices, events) =
            for_entry(EntryKind::Note, Visibility::Internal, None, None, PARTIES);
        assert!(notices.is_empty());
        assert_eq!(events, vec![Event::InternalEntry]);
        assert!(events.iter().all(|e| !e.is_customer_visible()));
    }

    #[test]
    fn a_public_reply_reaches_requester_and_assignee_but_not_its_author() {
        let (notices, events) =
            for_entry(EntryKind::Reply, Visibility::Public, None, None, PARTIES);
        assert_eq!(
            notices,
            vec![(Notice::PublicReply, 2), (Notice::PublicReply, 3)]
        );
        assert_eq!(events, vec![Event::PublicEntry]);
        let by_requester = Parties {
            author: Some(2),
            ..PARTIES
        };
        let (notices, _) = for_entry(
            EntryKind::Reply,
            Visibility::Public,
            None,
            None,
            by_requester,
        );
        assert_eq!(notices, vec![(Notice::PublicReply, 3)]);
    }

    #[test]
    fn resolution_assignment_and_escalation_notify_their_people() {
        let (n, e) = for_entry(
            EntryKind::StatusChange,
            Visibility::Public,
            Some("resolved"),
            None,
            PARTIES,
        );
        assert_eq!(n, vec![(Notice::Resolved, 2)]);
        assert!(e.contains(&Event::StatusChanged));
        let (n, _) = for_entry(
            EntryKind::StatusChange,
            Visibility::Public,
            Some("in_progress"),
            None,
            PARTIES,
        );
        assert!(n.is_empty());
        let (n, e) = for_entry(
            EntryKind::Assignment,
            Visibility::Internal,
            None,
            Some(5),
            PARTIES,
        );
        assert_eq!(n, vec![(Notice::Assigned, 5)]);
        assert_eq!(e, vec![Event::InternalEntry]);
        let (n, e) = for_entry(
            EntryKind::Escalation,
            Visibility::Internal,
            None,
            Some(1),
            PARTIES,
        );
        assert!(n.is_empty(), "escalating to oneself notifies nobody");
        assert_eq!(e, vec![Event::Escalated, Event::InternalEntry]);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(1, base, max), Duration::from_secs(30));
        assert_eq!(backoff(2, base, max), Duration::from_secs(60));
        assert_eq!(backoff(4, base, max), Duration::from_secs(240));
        assert_eq!(backoff(40, base, max), max);
    }

    #[test]
    fn names_round_trip() {
        for n in Notice::ALL {
            assert_eq!(n.as_str().parse(), Ok(n));
        }
        for e in Event::ALL {
            assert_eq!(e.as_str().parse(), Ok(e));
        }
    }
}
