//! Domain types the router reads and writes: a `Contact` in, a `Decision` out.
//!
//! They mirror `hotline.v1` but carry no wire concerns; `ingest` converts.
//! Every instant is UTC (`Instant`); local time is Asia/Shanghai (UTC+8).
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A point in time, always UTC.
pub type Instant = DateTime<Utc>;

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The lower-case name used in data files, metrics and the CLI.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
            /// Parses the lower-case name (also accepts upper case and dashes).
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim().to_ascii_lowercase().replace('-', "_");
                match s.as_str() { $($s => Some($name::$var),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

named_enum!(
    /// How a contact reached the hotline.
    Channel { Phone => "phone", Sms => "sms", Wechat => "wechat", Web => "web", App => "app", Platform => "platform" }
);
named_enum!(
    /// Where the contact entered the 12345 system (Art. 13(2)).
    Origin { Local => "local", Provincial => "provincial", National => "national" }
);
named_enum!(
    /// Nature of the request; fixes the completion limit (Art. 13(2)).
    Kind {
        Consultation => "consultation", Help => "help", Opinion => "opinion", Suggestion => "suggestion",
        Complaint => "complaint", Report => "report", Epidemic => "epidemic"
    }
);
named_enum!(
    /// Art. 13(4) priority.
    Priority { Normal => "normal", Special => "special", SpecialEmergency => "special_emergency" }
);
named_enum!(
    /// What the hotline does with a contact.
    RouteKind {
        DirectAnswer => "direct_answer", WorkOrder => "work_order", SubcenterTransfer => "subcenter_transfer",
        EmergencyTransfer => "emergency_transfer", UtilityLinkage => "utility_linkage", NotAccepted => "not_accepted"
    }
);
named_enum!(
    /// Whether a contact names a danger to life now (Art. 10(3), 15): an
    /// emergency goes to its line; a possible one is put in front of an
    /// agent at once, who relays or dismisses it within 3 minutes.
    SafetyLevel { None => "none", Possible => "possible", Emergency => "emergency" }
);
named_enum!(
    /// What a decision target is.
    TargetKind { Unit => "unit", Line => "line", Knowledge => "knowledge" }
);

/// Caller contact details as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub phone: String,
    pub wechat_openid: String,
    pub account_id: String,
}

/// Where the matter is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub district_code: String,
    pub address: String,
}

/// One contact from any channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub contact_id: String,
    /// `None` when the sender gave no channel or one this build does not know.
    pub channel: Option<Channel>,
    pub received_at: Option<Instant>,
    pub caller: Caller,
    pub content: String,
    pub kind_hint: Option<Kind>,
    pub category_hint: String,
    pub location: Location,
    pub origin: Origin,
    pub call_id: String,
    pub enterprise: bool,
    pub attributes: BTreeMap<String, String>,
    /// A provincial or national platform's own due time for its order
    /// (Art. 13(2)); wins over the computed one when earlier.
    pub platform_due: Option<Instant>,
}

impl Default for Contact {
    fn default() -> Self {
        Contact {
            contact_id: String::new(),
            channel: None,
            received_at: None,
            caller: Caller::default(),
            content: String::new(),
            kind_hint: None,
            category_hint: String::new(),
            location: Location::default(),
            origin: Origin::Local,
            call_id: String::new(),
            enterprise: false,
            attributes: BTreeMap::new(),
            platform_due: None,
        }
    }
}

/// A unit, a telephone line or a knowledge-base entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub code: Arc<str>,
    pub name: Arc<str>,
}

/// Every deadline that applies; `None` means "does not apply".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub accept_by: Option<Instant>,
    pub dispatch_by: Option<Instant>,
    pub sign_by: Option<Instant>,
    pub return_by: Option<Instant>,
    pub complete_by: Option<Instant>,
    pub notify_by: Option<Instant>,
    pub first_feedback_by: Option<Instant>,
    pub progress_by: Option<Instant>,
    /// An emergency sent as text, or a possible emergency: the center relays
    /// it to the line (or an agent dismisses it) within 3 minutes.
    pub relay_by: Option<Instant>,
    /// A working-day deadline reached past the known holiday calendar.
    pub provisional: bool,
}

/// Links to earlier contacts on the same matter (filled by deduplication).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupLinks {
    pub repeat_of: String,
    pub repeat_count: u32,
    pub reopen: bool,
    pub cluster_id: String,
    pub cluster_lead_case: String,
    pub cluster_lead_unit: String,
    pub cluster_size: u32,
}

/// The router's answer for one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub contact_id: String,
    pub case_id: String,
    pub route: RouteKind,
    pub targets: Vec<Target>,
    pub lead_unit: Option<Arc<str>>,
    pub co_units: Vec<Arc<str>>,
    pub kind: Kind,
    pub category: Arc<str>,
    pub priority: Priority,
    /// Life safety, decided before anything else.
    pub safety: SafetyLevel,
    /// The safety rule that decided (`safety.120`, `safety.110.possible` …).
    pub safety_rule: Option<Arc<str>>,
    /// The emergency lines the safety stage called for, most hit first
    /// (also for a possible emergency, whose targets are its route's).
    pub safety_lines: Vec<Arc<str>>,
    /// An emergency the center must relay to its line on the sender's
    /// behalf (a text contact cannot be put through).
    pub relay: bool,
    pub deadlines: Deadlines,
    pub dedup: DedupLinks,
    /// Every rule that produced this decision, in the order applied.
    pub rule_ids: Vec<Arc<str>>,
    /// The classifier's probabilities and alternatives (none without a model).
    pub confidence: Option<crate::classify::Confidence>,
    /// Why a dispatcher must review this work order before it goes to a
    /// unit (the classifier was not sure enough); `None` when it need not.
    pub review: Option<String>,
    pub guidance: String,
    pub channel: Channel,
    pub origin: Origin,
    pub enterprise: bool,
    pub district_code: String,
    pub received_at: Instant,
    /// Keyed hash of the normalized caller key; never the phone number.
    pub caller_ref: String,
    pub tags: Vec<&'static str>,
}

impl Decision {
    /// True when any deadline relies on a year outside the holiday calendar.
    pub fn provisional(&self) -> bool {
        self.deadlines.provisional
    }
}
