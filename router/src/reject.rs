//! Why a contact is refused before any decision (Art. 11: missing or malformed
//! input gets a clear rejection, never a silent drop).
use crate::model::Channel;

/// Content larger than this many bytes of UTF-8 is refused.
pub const MAX_CONTENT_BYTES: usize = 8 * 1024;
/// A `received_at` further than this in the future is refused.
pub const MAX_FUTURE_SECS: i64 = 5 * 60;
/// Longest accepted `contact_id`, in bytes.
pub const MAX_CONTACT_ID_BYTES: usize = 128;

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
            Reject::MissingReceivedAt | Reject::ReceivedInFuture(_) => "received_at",
            Reject::UnknownChannel => "channel",
            Reject::MissingCaller { field, .. } => field,
            Reject::InvalidPhone => "caller.phone",
        }
    }
}
