//! Why a contact is refused before any decision (Art. 11: missing or malformed
//! input gets a clear rejection, never a silent drop).
use crate::model::Channel;

/// Content larger than this many bytes of UTF-8 is refused.
pub const MAX_CONTENT_BYTES: usize = 8 * 1024;
/// A `received_at` further than this in the future is refused.
pub const MAX_FUTURE_SECS: i64 = 5 * 60;
/// Longest accepted `contact_id`, in bytes.
pub const MAX_CONTACT_ID_BYTES: usize = 128;
/// Longest accepted address, category hint, caller id or call id, in bytes.
pub const MAX_FIELD_BYTES: usize = 512;

/// Characters refused in ids: controls, and the zero-width and
/// bidirectional-override characters that make an id display as another.
pub fn unsafe_in_id(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// One reason a contact is refused. Each has a stable `code()` and names the
/// offending `field()` (a path into `hotline.v1.Contact`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("contact_id is missing")]
    MissingContactId,
    #[error(
        "contact_id is longer than {MAX_CONTACT_ID_BYTES} bytes or contains control characters"
    )]
    InvalidContactId,
    #[error("content is empty or whitespace only")]
    EmptyContent,
    #[error("content is {0} bytes, over the {MAX_CONTENT_BYTES}-byte limit")]
    ContentTooLong(usize),
    #[error("received_at is missing")]
    MissingReceivedAt,
    #[error("received_at is {0} s in the future, more than the {MAX_FUTURE_SECS} s allowed")]
    ReceivedInFuture(i64),
    #[error("received_at is {age_days} days ago, older than the {limit_days} days accepted from this origin")]
    ReceivedTooOld { age_days: i64, limit_days: i64 },
    #[error("location.district_code {0:?} is not one of the city's district codes")]
    InvalidDistrict(String),
    #[error("{0} is longer than {MAX_FIELD_BYTES} bytes or contains control characters")]
    InvalidField(&'static str),
    #[error("channel is missing or unknown")]
    UnknownChannel,
    #[error("a {channel} contact needs {field}")]
    MissingCaller {
        channel: Channel,
        field: &'static str,
    },
    #[error("caller.phone is not a valid mainland phone number")]
    InvalidPhone,
}

impl Reject {
    /// Every reason code, for metrics pre-registration and documentation.
    pub const CODES: &'static [&'static str] = &[
        "MISSING_CONTACT_ID",
        "INVALID_CONTACT_ID",
        "EMPTY_CONTENT",
        "CONTENT_TOO_LONG",
        "MISSING_RECEIVED_AT",
        "RECEIVED_IN_FUTURE",
        "RECEIVED_TOO_OLD",
        "INVALID_DISTRICT",
        "INVALID_FIELD",
        "UNKNOWN_CHANNEL",
        "MISSING_CALLER",
        "INVALID_PHONE",
    ];

    /// Stable machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::MissingContactId => "MISSING_CONTACT_ID",
            Reject::InvalidContactId => "INVALID_CONTACT_ID",
            Reject::EmptyContent => "EMPTY_CONTENT",
            Reject::ContentTooLong(_) => "CONTENT_TOO_LONG",
            Reject::MissingReceivedAt => "MISSING_RECEIVED_AT",
            Reject::ReceivedInFuture(_) => "RECEIVED_IN_FUTURE",
            Reject::ReceivedTooOld { .. } => "RECEIVED_TOO_OLD",
            Reject::InvalidDistrict(_) => "INVALID_DISTRICT",
            Reject::InvalidField(_) => "INVALID_FIELD",
            Reject::UnknownChannel => "UNKNOWN_CHANNEL",
            Reject::MissingCaller { .. } => "MISSING_CALLER",
            Reject::InvalidPhone => "INVALID_PHONE",
        }
    }

    /// The field of `hotline.v1.Contact` at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Reject::MissingContactId | Reject::InvalidContactId => "contact_id",
            Reject::EmptyContent | Reject::ContentTooLong(_) => "content",
            Reject::MissingReceivedAt
            | Reject::ReceivedInFuture(_)
            | Reject::ReceivedTooOld { .. } => "received_at",
            Reject::InvalidDistrict(_) => "location.district_code",
            Reject::InvalidField(f) => f,
            Reject::UnknownChannel => "channel",
            Reject::MissingCaller { field, .. } => field,
            Reject::InvalidPhone => "caller.phone",
        }
    }
}
