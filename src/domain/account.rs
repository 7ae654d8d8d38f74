//! Accounts: ids, roles, and the rules for what a person may type into an
//! account form.

use std::fmt;
use std::str::FromStr;

use super::FieldError;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl From<i64> for UserId {
    fn from(id: i64) -> Self {
        UserId(id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Engineer,
    Reviewer,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Customer,
        Role::Engineer,
        Role::Reviewer,
        Role::Manager,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Engineer => "engineer",
            Role::Reviewer => "reviewer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Everyone but customers works for the operations team.
    pub fn is_staff(self) -> bool {
        self != Role::Customer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "role",
                    format!(
                        "unknown role {:?}; choose one of customer, engineer, reviewer, manager, admin",
                        s.trim()
                    ),
                )
            })
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Hashing cost grows with length; nobody needs more.
pub const MAX_PASSWORD_BYTES: usize = 512;
pub const MAX_NAME_CHARS: usize = 120;
pub const MAX_EMAIL_BYTES: usize = 254;

/// The email as it will be stored: trimmed. Uniqueness ignores case.
pub fn validate_email(input: &str) -> Result<String, FieldError> {
    let email = input.trim();
    let invalid = |why: &str| FieldError::new("email", why.to_owned());
    if email.is_empty() {
        return Err(invalid("enter an email address"));
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(invalid("is longer than 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain spaces"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(email.to_owned())
        }
        _ => Err(invalid("is not an email address (name@example.com)")),
    }
}

pub fn validate_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A one-line name (display name, organization, token name), trimmed.
pub fn validate_name(field: &'static str, input: &str, max: usize) -> Result<String, FieldError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if name.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must be one line of text"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert_eq!(err.field, "role");
        assert!(err.message.contains("unknown role \"root\""));
    }

    #[test]
    fn only_customers_are_not_staff() {
        assert!(!Role::Customer.is_staff());
        assert!(Role::Engineer.is_staff() && Role::Admin.is_staff());
    }

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(
            validate_email("  Ana@Example.com ").unwrap(),
            "Ana@Example.com"
        );
        for bad in [
            "",
            "   ",
            "ana",
            "@x.org",
            "ana@",
            "a b@x.org",
            "a@b@c",
            "a@.x",
            "a@x.",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_email(&format!("{}@x.org", "a".repeat(260))).is_err());
    }

    #[test]
    fn passwords_have_a_minimum_and_a_maximum() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("exactly10!").is_ok());
        assert!(validate_password(&"x".repeat(513)).is_err());
        // Length counts characters, not bytes.
        assert!(validate_password("ääääääääää").is_ok());
    }

    #[test]
    fn names_are_one_trimmed_line() {
        assert_eq!(validate_name("name", "  Ops  ", 10).unwrap(), "Ops");
        assert!(validate_name("name", " ", 10).is_err());
        assert!(validate_name("name", "a\nb", 10).is_err());
        assert!(validate_name("name", &"x".repeat(11), 10).is_err());
    }
}
