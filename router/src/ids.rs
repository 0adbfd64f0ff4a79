//! Ids of the rules that are built in rather than read from data files.
use std::sync::{Arc, LazyLock};

macro_rules! builtin_ids {
    ($($(#[$m:meta])* $name:ident = $s:literal;)*) => {
        $($(#[$m])* pub static $name: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from($s));)*
    };
}

builtin_ids! {
    /// The agent's kind hint was used.
    KIND_HINT = "kind.hint";
    /// No kind rule matched.
    KIND_DEFAULT = "kind.default";
    /// The agent's category hint was used.
    CATEGORY_HINT = "category.hint";
    /// The category hint named no known category and was ignored.
    CATEGORY_HINT_UNKNOWN = "category.hint_unknown";
    /// No category rule matched.
    CATEGORY_DEFAULT = "category.default";
    /// The trained classifier decided the kind or category (its evidence follows).
    CLASSIFY_MODEL = "classify.model";
    /// The classifier was not sure enough: a dispatcher reviews the work order.
    CLASSIFY_REVIEW = "classify.review";
    /// Art. 12(2) 属地管理: the district's counterpart handles it.
    ROUTE_LOCALITY = "route.locality";
    /// Art. 12(2) 按职承办 / 行业主管: the city-level unit handles it.
    ROUTE_FUNCTION = "route.function";
    /// Art. 12(3) 牵办: lead unit with co-units.
    ROUTE_MULTI_UNIT = "route.multi_unit";
    /// The district code is not one of the city's districts.
    /// No district code: the district the address names.
    ROUTE_DISTRICT_FROM_ADDRESS = "route.district_from_address";
    /// No district code nor one in the address: the district the text names.
    ROUTE_DISTRICT_FROM_TEXT = "route.district_from_text";
    /// Art. 12(1) 直办 from the knowledge base.
    ROUTE_DIRECT_ANSWER = "route.direct_answer";
    /// Enterprise request, fast-tracked and counted on its own.
    ROUTE_ENTERPRISE = "route.enterprise";
    /// Completion limit by kind (Art. 13(2)).
    DEADLINE_KIND = "deadline.kind";
    /// Provincial / national order due 3 h early (Art. 13(2)).
    DEADLINE_PLATFORM_ADVANCE = "deadline.platform_advance";
    /// A deadline relies on a year outside the holiday calendar.
    DEADLINE_PROVISIONAL = "deadline.provisional";
    /// Art. 14(3): the same caller on the same matter again.
    DEDUP_REPEAT = "dedup.repeat";
    /// Art. 12(3): many callers on one matter, led by the first-receiving unit.
    DEDUP_CLUSTER = "dedup.cluster";
    /// Art. 21 / 13(4): an outage or pollution hotspot is a special matter.
    DEDUP_HOTSPOT_SPECIAL = "dedup.hotspot_special";
}
