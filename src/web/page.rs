//! What every page needs besides its own data: who is signed in (for the
//! navigation), the CSRF token for its forms, and a one-line notice after a
//! redirect.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;

use chrono::{DateTime, Utc};

use crate::domain::account::Role;
use crate::domain::zone::{self, Tz};
use crate::web::auth::Identity;
use crate::web::csrf::CsrfToken;
use crate::web::error::AppError;

#[derive(Debug, Clone)]
pub struct NavUser {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

impl NavUser {
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A time, however many references deep a template holds it.
pub trait Instant {
    fn instant(&self) -> DateTime<Utc>;
}

impl Instant for DateTime<Utc> {
    fn instant(&self) -> DateTime<Utc> {
        *self
    }
}

impl<T: Instant + ?Sized> Instant for &T {
    fn instant(&self) -> DateTime<Utc> {
        (**self).instant()
    }
}

#[derive(Debug, Clone)]
pub struct Ctx {
    pub user: Option<NavUser>,
    pub csrf: String,
    pub notice: Option<&'static str>,
    /// Tickets waiting for a review, shown in a reviewer's navigation.
    pub review_queue: Option<i64>,
    /// The zone the person reads times in (their own, else the instance's
    /// default).
    pub zone: Tz,
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ctx = Self::base(req);
        let wants_count = ctx.user.as_ref().is_some_and(|u| u.role == Role::Reviewer);
        let state = req
            .app_data::<actix_web::web::Data<crate::app::AppState>>()
            .cloned();
        Box::pin(async move {
            let mut ctx = ctx;
            if let (true, Some(state)) = (wants_count, state) {
                // The count is a convenience: a failure must not take the page down.
                if let Ok(mut conn) = state.pool.get().await {
                    ctx.review_queue = crate::db::reviews::queue_count(&mut conn).await.ok();
                }
            }
            Ok(ctx)
        })
    }
}

impl Ctx {
    /// A time as this person reads it, in their zone, e.g.
    /// `2026-11-01 01:30 EST`. Takes a value or a reference, as templates
    /// pass either.
    pub fn time(&self, at: impl Instant) -> String {
        zone::show(self.zone, at.instant())
    }

    /// The date of a time in this person's zone.
    pub fn date(&self, at: impl Instant) -> String {
        zone::date_of(self.zone, at.instant()).to_string()
    }

    fn base(req: &HttpRequest) -> Self {
        let default_zone = req
            .app_data::<actix_web::web::Data<crate::app::AppState>>()
            .map_or(Tz::UTC, |state| state.config.time_zone);
        let extensions = req.extensions();
        let zone = extensions
            .get::<Option<Identity>>()
            .and_then(Option::as_ref)
            .map_or(default_zone, |identity| identity.user.zone(default_zone));
        let user = extensions
            .get::<Option<Identity>>()
            .cloned()
            .flatten()
            .map(|identity| NavUser {
                id: identity.user.id,
                name: identity.user.display_name.clone(),
                role: identity.user.role(),
            });
        let csrf = extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let notice = req
            .query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("notice="))
            .and_then(notice_text);
        Ctx {
            user,
            csrf,
            notice,
            review_queue: None,
            zone,
        }
    }
}

/// Notices are named in the redirect's query and worded here, so a link
/// cannot put arbitrary text on a page.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "signed-out" => "You are signed out.",
        "password-changed" => {
            "Your password was changed. Every session has ended; sign in with the new password."
        }
        "token-revoked" => "The token was revoked. Requests using it are refused from now on.",
        "user-created" => "The user was created.",
        "role-changed" => "The role was changed.",
        "user-disabled" => "The user is disabled and every session of theirs has ended.",
        "user-enabled" => "The user can sign in again.",
        "password-reset" => "The password was reset and every session of the user has ended.",
        "organization-created" => "The organization was created.",
        "setup-used" => "This setup link was already used: Casebook has an admin. Sign in below.",
        "category-added" => "The category was added to the list.",
        "notifications-saved" => "Your notification choices are saved.",
        "time-zone-saved" => {
            "Your time zone is saved: times and report days are in it from now on."
        }
        "webhook-created" => "The webhook is subscribed. Its secret is shown below.",
        "webhook-stopped" => "The webhook is stopped; nothing more is sent to it.",
        "mail-domain-saved" => "Mail from that domain now opens tickets for the organization.",
        "mail-domain-removed" => {
            "Mail from that domain is refused again unless the sender has an account."
        }
        "attachment-added" => "The file is attached to the ticket.",
        "integration-saved" => "The integration is saved; its next alerts use these settings.",
        "integration-revoked" => {
            "The integration is revoked. Deliveries with its token are refused from now on."
        }
        "category-removed" => {
            "The category was removed from the list; tickets keep the text they have."
        }
        "model-saved" => "Saved as a new revision.",
        "model-unchanged" => "Nothing changed, so no revision was added.",
        "model-verified" => "Marked as verified by you, now.",
        "model-retired" => "The model is retired. It stays readable, with its history.",
        "review-draft-saved" => "The draft is saved. Anyone on the team can carry on with it.",
        "review-submitted" => "The review is submitted and noted in the ticket's journal.",
        "improvement-filed" => "The improvement item is filed.",
        "improvement-filed-overdue" => {
            "The improvement item is filed. Its due date has passed, so it counts as overdue (twice in the debt)."
        }
        "improvement-saved" => "The item is saved; the change is in its history.",
        "items-reprioritised" => "The ticked items have their new priority.",
        "rota-assigned" => "The week has its triager.",
        "rota-swapped" => "The two weeks are swapped; the swap is recorded with who agreed.",
        "triage-reviewed" => "The triage grade is recorded; it counts in that week's score.",
        _ => return None,
    })
}

/// Renders a page struct into an HTML response.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    render_status(page, StatusCode::OK)
}

pub fn render_status(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page.render()?))
}

/// 303 See Other: after a successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A list's page number from a query string: 1 when absent, at least 1 and
/// at most [`PageNo::MAX`] however large the number asked for, so an offset
/// computed from it can neither overflow nor ask for an absurd allocation.
/// Every paged list (pages and API) takes its page through this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageNo(i64);

impl PageNo {
    /// Far beyond any real list (50 million rows at 50 a page).
    pub const MAX: i64 = 1_000_000;

    pub fn new(number: i64) -> Self {
        Self(number.clamp(1, Self::MAX))
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// The offset of this page's first row.
    pub fn offset(self, per_page: i64) -> i64 {
        (self.0 - 1).saturating_mul(per_page)
    }

    /// This page, or the last one when it lies beyond `pages`.
    pub fn at_most(self, pages: i64) -> Self {
        Self::new(self.0.min(pages))
    }
}

impl Default for PageNo {
    fn default() -> Self {
        Self(1)
    }
}

impl std::str::FromStr for PageNo {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::default());
        }
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("page must be a whole number");
        }
        Ok(match (negative, digits.parse::<i64>()) {
            (true, _) => Self::default(),
            (false, Ok(n)) => Self::new(n),
            // More digits than an i64 holds: as far as lists go.
            (false, Err(_)) => Self::new(Self::MAX),
        })
    }
}

impl<'de> serde::Deserialize<'de> for PageNo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PageNo;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a page number")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PageNo, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PageNo, E> {
                Ok(PageNo::new(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PageNo, E> {
                Ok(PageNo::new(i64::try_from(v).unwrap_or(PageNo::MAX)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::PageNo;

    #[test]
    fn page_numbers_are_clamped_never_overflowing() {
        let page = |s: &str| s.parse::<PageNo>().map(PageNo::number);
        assert_eq!(page(""), Ok(1));
        assert_eq!(page("0"), Ok(1));
        assert_eq!(page("-5"), Ok(1));
        assert_eq!(page("-99999999999999999999999"), Ok(1));
        assert_eq!(page("7"), Ok(7));
        assert_eq!(page("99999999999"), Ok(PageNo::MAX));
        assert_eq!(page("9223372036854775807"), Ok(PageNo::MAX));
        assert_eq!(page("99999999999999999999999999999"), Ok(PageNo::MAX));
        assert!(page("abc").is_err());
        assert!(page("1e9").is_err());
        assert!(page("-").is_err());
        let last = PageNo::new(i64::MAX);
        assert!(last.offset(50) > 0);
        assert_eq!(last.offset(i64::MAX), i64::MAX);
        assert_eq!(PageNo::new(9).at_most(3).number(), 3);
        assert_eq!(PageNo::new(9).at_most(0).number(), 1);
    }
}
