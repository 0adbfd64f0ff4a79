//! The rules data files as written (config shapes, `deny_unknown_fields`):
//! `kinds.toml`, `categories.toml`, `scope.toml`, `units.toml`, `kb.toml`.
//! See `router/data/README.md` for their documentation.
//!
//! Every keyword rule has the same matching fields: it matches when its text
//! contains any of `keywords`, and (if given) any of `with`, and none of `unless`.
use serde::Deserialize;
use std::borrow::Cow;

/// The default rules, shipped with the crate.
pub const EMBEDDED: RuleSources<'static> = RuleSources {
    kinds: include_str!("../data/kinds.toml"),
    categories: include_str!("../data/categories.toml"),
    scope: include_str!("../data/scope.toml"),
    safety: include_str!("../data/safety.toml"),
    units: include_str!("../data/units.toml"),
    kb: include_str!("../data/kb.toml"),
    model: include_bytes!("../data/model/classifier.bin"),
};

/// The text of the six rules files and the classifier model's bytes.
#[derive(Debug, Clone, Copy)]
pub struct RuleSources<'a> {
    pub kinds: &'a str,
    pub categories: &'a str,
    pub scope: &'a str,
    pub safety: &'a str,
    pub units: &'a str,
    pub kb: &'a str,
    /// The trained classifier (`crate::classifier`); empty: keyword rules only.
    pub model: &'a [u8],
}

/// The file names, in the order of [`RuleSources`]' fields.
pub const FILE_NAMES: [&str; 6] = [
    "kinds.toml",
    "categories.toml",
    "scope.toml",
    "safety.toml",
    "units.toml",
    "kb.toml",
];

/// One problem in the rules data; loading reports all of them at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {msg}")]
pub struct RulesError {
    pub file: String,
    pub msg: String,
}

/// The matching fields every keyword rule shares.
pub trait Keyworded {
    fn id(&self) -> Cow<'_, str>;
    fn keywords(&self) -> &[String];
    fn with(&self) -> &[String];
    fn unless(&self) -> &[String];
}

macro_rules! keyword_rule {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Stable rule id, listed in every decision it contributes to.
            pub id: String,
            /// Matches when the text contains any of these.
            pub keywords: Vec<String>,
            /// ... and, if not empty, any of these.
            #[serde(default)]
            pub with: Vec<String>,
            /// ... and none of these.
            #[serde(default)]
            pub unless: Vec<String>,
            $($(#[$fm])* pub $f: $t),*
        }
        impl Keyworded for $name {
            fn id(&self) -> Cow<'_, str> { Cow::Borrowed(&self.id) }
            fn keywords(&self) -> &[String] { &self.keywords }
            fn with(&self) -> &[String] { &self.with }
            fn unless(&self) -> &[String] { &self.unless }
        }
    };
}

/// `kinds.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindsFile {
    /// Kind when no rule matches.
    pub default_kind: String,
    #[serde(rename = "rule", default)]
    pub rules: Vec<KindRule>,
}

keyword_rule!(
    /// Votes for a kind with a weight; the kind with the highest total wins.
    KindRule {
        pub kind: String,
        #[serde(default = "one")]
        pub weight: u32,
    }
);

fn one() -> u32 {
    1
}

/// `categories.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoriesFile {
    /// Category when no rule matches (routed to the coordinator).
    pub default_category: String,
    #[serde(rename = "category", default)]
    pub categories: Vec<CategoryDef>,
}

/// A category and the unit that handles it; its rule id is `category.<code>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDef {
    /// Category code, e.g. `housing.property`; also the `category_hint` value.
    pub code: String,
    pub name: String,
    /// Key of the responsible unit in `units.toml` (按职承办 / 行业主管).
    pub unit: String,
    /// Handled by the district's counterpart of the unit when the district is known (属地管理).
    #[serde(default)]
    pub locality: bool,
    /// Units that always co-handle this category (牵办).
    #[serde(default)]
    pub co_units: Vec<String>,
    pub keywords: Vec<String>,
    #[serde(default)]
    pub with: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
}

impl Keyworded for CategoryDef {
    fn id(&self) -> Cow<'_, str> {
        Cow::Owned(format!("category.{}", self.code))
    }
    fn keywords(&self) -> &[String] {
        &self.keywords
    }
    fn with(&self) -> &[String] {
        &self.with
    }
    fn unless(&self) -> &[String] {
        &self.unless
    }
}

/// `scope.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeFile {
    pub empty: EmptyDef,
    #[serde(default)]
    pub not_accepted: Vec<NotAcceptedDef>,
    #[serde(default)]
    pub scope_check: Vec<ScopeCheckDef>,
    #[serde(default)]
    pub subcenter: Vec<LineDef>,
    #[serde(default)]
    pub utility: Vec<UtilityDef>,
    #[serde(default)]
    pub special: Vec<SpecialDef>,
}

/// Art. 10(5): content with no substance once greetings and filler are gone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyDef {
    pub id: String,
    pub guidance: String,
    /// Fewer letters, digits or CJK characters than this, after removing `filler`, is empty.
    pub min_chars: usize,
    #[serde(default)]
    pub filler: Vec<String>,
}

keyword_rule!(
    /// Art. 10: a matter the hotline does not accept.
    NotAcceptedDef {
        /// The article it rests on, e.g. "Art. 10(1)".
        pub article: String,
        /// What the agent tells the caller.
        pub guidance: String,
    }
);

keyword_rule!(
    /// Art. 10: scope that cannot be settled from the text; the work order
    /// is tagged `scope_check` (verify with the unit first), not refused.
    ScopeCheckDef {
        pub article: String,
    }
);

keyword_rule!(
    /// A telephone line to transfer to: a sub-center (Art. 7).
    LineDef {
        pub line: String,
        pub name: String,
        pub guidance: String,
    }
);

keyword_rule!(
    /// Art. 15: water, power and gas service lines.
    UtilityDef {
        pub line: String,
        pub name: String,
        /// Unit key that supervises the utility; leads a special-matter case.
        pub supervisor: String,
        /// Category code recorded on the decision.
        pub category: String,
        pub guidance: String,
    }
);

keyword_rule!(
    /// Art. 13(4): raises the priority to `special` or `special_emergency`.
    SpecialDef {
        pub priority: String,
        /// Unit keys of the departments that handle such a matter: told
        /// with the local government within 3 minutes (Art. 13(4)) and named
        /// as targets; the first leads when no category places the matter.
        #[serde(default)]
        pub units: Vec<String>,
    }
);

/// `safety.toml`: what names a danger to life now (Art. 10(3), 15); see
/// the file's header and `crate::safety`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyFile {
    /// What the caller is told on the phone; `{line}` and `{name}` filled in.
    pub phone_guidance: String,
    /// What the sender of a text is told when the center relays it.
    pub relay_guidance: String,
    /// Appended to a possible emergency's guidance.
    pub possible_guidance: String,
    pub time: SafetyTimeDef,
    pub service: SafetyServiceDef,
    pub generic: SafetyGenericDef,
    #[serde(rename = "line", default)]
    pub lines: Vec<SafetyLineDef>,
    #[serde(default)]
    pub together: Vec<SafetyTogetherDef>,
}

/// Markers that place a clause in time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyTimeDef {
    pub past: Vec<String>,
    pub present: Vec<String>,
    #[serde(default)]
    pub hypothetical: Vec<String>,
    #[serde(default)]
    pub uncertain: Vec<String>,
}

/// Words that make a clause about an emergency service, and phrases that
/// contain a danger word but name no danger.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyServiceDef {
    pub about: Vec<String>,
    #[serde(default)]
    pub mask: Vec<String>,
}

/// Cries for help that name no line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyGenericDef {
    pub id: String,
    pub line: String,
    pub emergency: Vec<String>,
}

/// One emergency line and the terms that call for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyLineDef {
    pub id: String,
    pub line: String,
    pub name: String,
    pub emergency: Vec<String>,
    #[serde(default)]
    pub possible: Vec<String>,
    /// Asking for the service itself (叫救护车); not in a clause about the service.
    #[serde(default)]
    pub service: Vec<String>,
}

/// An emergency when a term of each list is present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyTogetherDef {
    pub id: String,
    pub lines: Vec<String>,
    pub first: Vec<String>,
    pub second: Vec<String>,
}

/// `units.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsFile {
    pub city: CityDef,
    #[serde(rename = "district", default)]
    pub districts: Vec<DistrictDef>,
    #[serde(rename = "unit", default)]
    pub units: Vec<UnitDef>,
}

/// The city the hotline serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityDef {
    /// Administrative division code of the city, e.g. 510800.
    pub code: String,
    pub name: String,
    /// Telephone area code completing local landline numbers, e.g. 0839.
    pub area_code: String,
    /// Prefix of case ids, e.g. GY.
    pub case_prefix: String,
    /// Unit key of the 12345 center, which coordinates what no rule places.
    pub coordinator: String,
    /// Unit key of the local government (属地政府): its district
    /// counterpart (区/县人民政府) is a target of every special matter
    /// (Art. 13(4)); none: not named.
    #[serde(default)]
    pub local_government: Option<String>,
}

/// A county-level district.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictDef {
    pub code: String,
    pub name: String,
    /// Towns, subdistricts and other names inside it, for placing a
    /// contact that comes without a district code.
    #[serde(default)]
    pub places: Vec<String>,
    /// An area that is not a county but handles contacts like one (Art. 3:
    /// 广元经济技术开发区): its managing body receives every work order a
    /// county's unit would, except for the units listed in `units`.
    #[serde(default)]
    pub committee: String,
    /// Unit key → the name of the area's own department for it (zones
    /// only; for a county the counterpart is named by `district_suffix`).
    #[serde(default)]
    pub units: std::collections::BTreeMap<String, String>,
}

/// A handling unit (承办单位) at city level, with its district counterparts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitDef {
    /// Short key used by categories, e.g. `zjj`.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub short: String,
    /// Name of the district counterpart after the district's name, e.g.
    /// 住房和城乡建设局 gives 利州区住房和城乡建设局. Empty: no counterpart.
    #[serde(default)]
    pub district_suffix: String,
}

/// `kb.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KbFile {
    #[serde(rename = "entry", default)]
    pub entries: Vec<KbDef>,
}

keyword_rule!(
    /// A knowledge-base entry a consultation can be answered from directly (直办).
    KbDef {
        pub title: String,
        pub answer: String,
    }
);
