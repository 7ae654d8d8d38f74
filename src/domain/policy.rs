//! The one place that answers "may this person do this to that". Routes name
//! an [`Access`] level in the route table; queries that return tickets or
//! journal entries take a [`Viewer`] and ask for its scope here, so a
//! customer's query cannot return another organization's ticket or an
//! internal entry.

use super::account::{OrgId, Role, UserId};

/// Who may reach a route at all. Every route in the route table names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone, signed in or not (login page, health checks, static files).
    Anyone,
    /// Any signed-in person, customers included.
    SignedIn,
    /// The operations team: engineers, reviewers, managers, admins.
    Staff,
    /// Managers and admins (metrics, the improvement backlog's priorities).
    Manager,
    /// Admins only (users, organizations, audit log).
    Admin,
    /// An alert source with an integration token (the alert intake); no
    /// person, whatever their role, and no person's token.
    Integration,
}

impl Access {
    pub fn allows(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Access::Anyone, _) => true,
            (Access::Integration, _) => false,
            (_, None) => false,
            (Access::SignedIn, Some(_)) => true,
            (Access::Staff, Some(role)) => role.is_staff(),
            (Access::Manager, Some(role)) => matches!(role, Role::Manager | Role::Admin),
            (Access::Admin, Some(role)) => role == Role::Admin,
        }
    }
}

/// The signed-in person a query is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user: UserId,
    pub role: Role,
    pub org: Option<OrgId>,
}

/// Whether a journal entry is for the team only or also for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Internal,
    Public,
}

/// Which tickets a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketScope {
    All,
    Organization(OrgId),
    /// A customer without an organization sees nothing.
    Nothing,
}

/// Which journal entries of a visible ticket a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryScope {
    All,
    PublicOnly,
}

impl Viewer {
    pub fn ticket_scope(&self) -> TicketScope {
        match (self.role.is_staff(), self.org) {
            (true, _) => TicketScope::All,
            (false, Some(org)) => TicketScope::Organization(org),
            (false, None) => TicketScope::Nothing,
        }
    }

    pub fn entry_scope(&self) -> EntryScope {
        if self.role.is_staff() {
            EntryScope::All
        } else {
            EntryScope::PublicOnly
        }
    }

    pub fn may_view_ticket(&self, ticket_org: Option<OrgId>) -> bool {
        match self.ticket_scope() {
            TicketScope::All => true,
            TicketScope::Organization(org) => ticket_org == Some(org),
            TicketScope::Nothing => false,
        }
    }

    pub fn may_view_entry(&self, ticket_org: Option<OrgId>, visibility: Visibility) -> bool {
        self.may_view_ticket(ticket_org)
            && (self.entry_scope() == EntryScope::All || visibility == Visibility::Public)
    }

    /// Customers may write only public entries (replies).
    pub fn may_write_entry(&self, ticket_org: Option<OrgId>, visibility: Visibility) -> bool {
        self.may_view_entry(ticket_org, visibility)
    }

    /// Internal models are the team's; public ones customers may read.
    pub fn may_view_model(&self, model_public: bool) -> bool {
        self.role.is_staff() || model_public
    }

    /// "Anyone on the team edits models."
    pub fn may_edit_models(&self) -> bool {
        self.role.is_staff()
    }

    pub fn may_manage_accounts(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACME: OrgId = OrgId(1);
    const GLOBEX: OrgId = OrgId(2);

    fn viewer(role: Role, org: Option<OrgId>) -> Viewer {
        Viewer {
            user: UserId(7),
            role,
            org,
        }
    }

    #[test]
    fn access_levels_by_role() {
        use Role::*;
        let table = [
            (Access::Anyone, [true, true, true, true, true, true]),
            (Access::SignedIn, [false, true, true, true, true, true]),
            (Access::Staff, [false, false, true, true, true, true]),
            (Access::Manager, [false, false, false, false, true, true]),
            (Access::Admin, [false, false, false, false, false, true]),
            (
                Access::Integration,
                [false, false, false, false, false, false],
            ),
        ];
        let roles = [
            None,
            Some(Customer),
            Some(Engineer),
            Some(Reviewer),
            Some(Manager),
            Some(Admin),
        ];
        for (access, expected) in table {
            for (role, want) in roles.iter().zip(expected) {
                assert_eq!(access.allows(*role), want, "{access:?} for {role:?}");
            }
        }
    }

    #[test]
    fn customers_see_only_their_organizations_tickets() {
        let customer = viewer(Role::Customer, Some(ACME));
        assert!(customer.may_view_ticket(Some(ACME)));
        assert!(!customer.may_view_ticket(Some(GLOBEX)));
        assert!(!customer.may_view_ticket(None));
        assert_eq!(customer.ticket_scope(), TicketScope::Organization(ACME));
    }

    #[test]
    fn a_customer_without_an_organization_sees_no_ticket() {
        let stray = viewer(Role::Customer, None);
        assert_eq!(stray.ticket_scope(), TicketScope::Nothing);
        assert!(!stray.may_view_ticket(None));
        assert!(!stray.may_view_ticket(Some(ACME)));
    }

    #[test]
    fn customers_see_only_public_entries() {
        let customer = viewer(Role::Customer, Some(ACME));
        assert!(customer.may_view_entry(Some(ACME), Visibility::Public));
        assert!(!customer.may_view_entry(Some(ACME), Visibility::Internal));
        assert!(!customer.may_view_entry(Some(GLOBEX), Visibility::Public));
        assert_eq!(customer.entry_scope(), EntryScope::PublicOnly);
        assert!(customer.may_write_entry(Some(ACME), Visibility::Public));
        assert!(!customer.may_write_entry(Some(ACME), Visibility::Internal));
    }

    #[test]
    fn staff_see_every_ticket_and_entry() {
        for role in [Role::Engineer, Role::Reviewer, Role::Manager, Role::Admin] {
            let staff = viewer(role, None);
            assert_eq!(staff.ticket_scope(), TicketScope::All);
            assert!(staff.may_view_entry(Some(GLOBEX), Visibility::Internal));
            assert!(staff.may_view_model(false));
            assert!(staff.may_edit_models());
        }
    }

    #[test]
    fn customers_read_public_models_only_and_edit_none() {
        let customer = viewer(Role::Customer, Some(ACME));
        assert!(customer.may_view_model(true));
        assert!(!customer.may_view_model(false));
        assert!(!customer.may_edit_models());
    }

    #[test]
    fn only_admins_manage_accounts() {
        for role in Role::ALL {
            assert_eq!(
                viewer(role, None).may_manage_accounts(),
                role == Role::Admin
            );
        }
    }
}
