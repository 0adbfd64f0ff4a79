//! The compiled [`Router`]: rules data validated and turned into runtime
//! tables (config shapes in `rules`, runtime shapes here). Building returns
//! every error in every file at once.
use crate::calendar::Calendar;
use crate::matcher::Matcher;
use crate::model::{Kind, Priority, Target, TargetKind};
use crate::rules::*;
use std::collections::HashMap;
use std::sync::Arc;

mod sections;
use sections::Sections;

/// A kind rule at run time.
#[derive(Debug)]
pub(crate) struct KindRt {
    pub kind: Kind,
    pub weight: u32,
}

/// A category at run time.
#[derive(Debug)]
pub(crate) struct CategoryRt {
    pub code: Arc<str>,
    pub unit: usize,
    pub locality: bool,
    pub co_units: Vec<usize>,
}

/// A transfer line at run time (sub-center or utility).
#[derive(Debug)]
pub(crate) struct LineRt {
    pub target: Target,
    pub guidance: Arc<str>,
    /// Utility lines: supervising unit and category.
    pub supervisor: Option<usize>,
    pub category: Option<Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct NotAcceptedRt {
    pub guidance: Arc<str>,
}

#[derive(Debug)]
pub(crate) struct EmptyRt {
    pub id: Arc<str>,
    pub guidance: Arc<str>,
    pub min_chars: usize,
    /// The filler phrases, normalized.
    pub filler: crate::scope::Filler,
}

#[derive(Debug)]
pub(crate) struct KbRt {
    pub target: Target,
    pub answer: Arc<str>,
}

/// A special-matter rule (Art. 13(4)): the priority it raises and the
/// departments (unit indexes) that handle such a matter.
#[derive(Debug, Clone)]
pub(crate) struct SpecialRt {
    pub priority: Priority,
    pub units: Vec<usize>,
}

/// A handling unit and its targets: index 0 is the city-level unit, index
/// `1 + d` the counterpart in district `d` (when it has one).
#[derive(Debug)]
pub(crate) struct UnitRt {
    pub targets: Vec<Option<Target>>,
}

/// Options that are not rules data.
#[derive(Debug, Clone)]
pub struct RouterOptions {
    /// Key of the keyed hash that pseudonymises callers (`caller_ref`).
    pub caller_secret: [u8; 32],
    /// A work order whose kind or category the classifier gives less than
    /// this probability is marked for a dispatcher's review.
    pub review_threshold: f32,
    /// Oldest `received_at` accepted, before `now`: local contacts, then
    /// orders from the provincial or national platform (which may reach
    /// the city later). `None`: no limit (offline tools).
    pub max_age: Option<(chrono::TimeDelta, chrono::TimeDelta)>,
    /// Whether decisions carry `caller_ref`; false when `caller_secret` is
    /// the built-in key outside tests (its pseudonyms can be reversed).
    pub publish_caller_ref: bool,
}

/// Default [`RouterOptions::review_threshold`] (see BENCHMARKS.md for the
/// coverage and precision it gives on the held-out corpus).
pub const DEFAULT_REVIEW_THRESHOLD: f32 = 0.5;

impl Default for RouterOptions {
    fn default() -> Self {
        // A fixed default keeps `replay` deterministic; production configs
        // set their own secret (see the `[privacy]` config section).
        RouterOptions {
            caller_secret: *blake3::hash(b"hotline default caller key").as_bytes(),
            review_threshold: DEFAULT_REVIEW_THRESHOLD,
            max_age: None,
            publish_caller_ref: true,
        }
    }
}

/// The classifier at run time: the model and its categories as the
/// router's indexes.
#[derive(Debug)]
pub(crate) struct ClassifierRt {
    pub model: crate::classifier::Model,
    pub categories: Vec<usize>,
}

/// Everything the pure decision needs: rules, units, calendar, options.
#[derive(Debug)]
pub struct Router {
    pub(crate) matcher: Matcher,
    pub(crate) kinds: Vec<KindRt>,
    pub(crate) default_kind: Kind,
    pub(crate) categories: Vec<CategoryRt>,
    pub(crate) category_by_code: HashMap<String, usize>,
    pub(crate) default_category: usize,
    pub(crate) empty: EmptyRt,
    pub(crate) not_accepted: Vec<NotAcceptedRt>,
    pub(crate) safety: crate::safety::SafetyRules,
    pub(crate) classifier: Option<ClassifierRt>,
    pub(crate) subcenter: Vec<LineRt>,
    pub(crate) utility: Vec<LineRt>,
    pub(crate) special: Vec<SpecialRt>,
    pub(crate) kb: Vec<KbRt>,
    pub(crate) units: Vec<UnitRt>,
    pub(crate) district_index: HashMap<String, usize>,
    /// (code, name) of every district, for finding one named in a text.
    pub(crate) district_names: Vec<(String, String)>,
    /// Every district's names (full, short, its places) in one automaton
    /// (leftmost-longest), with the district of each pattern.
    pub(crate) district_places: Option<(aho_corasick::AhoCorasick, Vec<usize>)>,
    pub(crate) coordinator: usize,
    /// The local government unit, a target of every special matter (Art. 13(4)).
    pub(crate) local_government: Option<usize>,
    pub(crate) area_code: String,
    /// The city's own division code (a contact may name it: no district).
    pub(crate) city_code: String,
    pub(crate) case_prefix: String,
    pub(crate) calendar: Calendar,
    pub(crate) options: RouterOptions,
}

fn parse<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    errors: &mut Vec<RulesError>,
) -> Option<T> {
    match toml::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let span = e
                .span()
                .map(|s| format!(" (at byte {})", s.start))
                .unwrap_or_default();
            errors.push(RulesError {
                file: file.into(),
                msg: format!("{}{span}", e.message()),
            });
            None
        }
    }
}

/// The model read from `bytes` (none when empty), its categories mapped to
/// the rules' categories.
fn classifier_rt(
    bytes: &[u8],
    category_by_code: &HashMap<String, usize>,
    errors: &mut Vec<RulesError>,
) -> Option<ClassifierRt> {
    if bytes.is_empty() {
        return None;
    }
    let mut err = |msg: String| {
        errors.push(RulesError {
            file: "classifier model".into(),
            msg,
        })
    };
    let model = crate::classifier::Model::from_bytes(bytes)
        .map_err(|e| err(e.to_string()))
        .ok()?;
    let mut categories = Vec::with_capacity(model.categories.len());
    for c in &model.categories {
        match category_by_code.get(&**c) {
            Some(&i) => categories.push(i),
            None => {
                err(format!(
                    "category {c:?} of the model is not in categories.toml: retrain the model"
                ));
                return None;
            }
        }
    }
    Some(ClassifierRt { model, categories })
}

/// One leftmost-longest automaton over every district's name, its name
/// without 区/县/市 (two characters or more) and its places, normalized.
fn district_places(districts: &[DistrictDef]) -> Option<(aho_corasick::AhoCorasick, Vec<usize>)> {
    let mut words = Vec::new();
    let mut of = Vec::new();
    for (i, d) in districts.iter().enumerate() {
        let short = d.name.trim_end_matches(['区', '县', '市']);
        let names = [d.name.as_str(), short]
            .into_iter()
            .filter(|n| n.chars().count() >= 2)
            .chain(d.places.iter().map(String::as_str));
        for n in names {
            let n = crate::normalize::normalize_text(n);
            if !n.is_empty() {
                words.push(n);
                of.push(i);
            }
        }
    }
    let ac = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&words)
        .ok()?;
    Some((ac, of))
}

fn line_target(line: &str, name: &str) -> Target {
    Target {
        kind: TargetKind::Line,
        code: Arc::from(line),
        name: Arc::from(name),
    }
}

/// Where unit `u`'s work orders go in district `d`: the county's
/// counterpart (`<district name><suffix>`), or for a zone with a managing
/// committee (Art. 3) its own department if listed, else the committee;
/// none when the unit has no district counterpart.
fn district_counterpart(
    d: &crate::rules::DistrictDef,
    u: &crate::rules::UnitDef,
) -> Option<Target> {
    if u.district_suffix.is_empty() {
        return None;
    }
    let (key, name) = match (d.units.get(&u.key), d.committee.trim()) {
        (Some(own), _) => (u.key.as_str(), own.clone()),
        (None, "") => (u.key.as_str(), format!("{}{}", d.name, u.district_suffix)),
        (None, committee) => ("committee", committee.to_string()),
    };
    Some(Target {
        kind: TargetKind::Unit,
        code: Arc::from(format!("{}.{}", d.code, key)),
        name: Arc::from(name),
    })
}

impl Router {
    /// The default rules and the official calendar, shipped with the crate.
    pub fn embedded() -> Result<Router, Vec<RulesError>> {
        let calendar = Calendar::embedded().map_err(|es| {
            es.into_iter()
                .map(|e| RulesError {
                    file: "calendar".into(),
                    msg: e.to_string(),
                })
                .collect::<Vec<_>>()
        })?;
        Router::build(EMBEDDED, calendar, RouterOptions::default())
    }

    /// The calendar in use.
    /// The city's division code (`[city] code` of `units.toml`): the
    /// tenant these rules are for.
    pub fn city_code(&self) -> &str {
        &self.city_code
    }

    /// The prefix of the city's case ids (`[city] case_prefix`).
    pub fn case_prefix(&self) -> &str {
        &self.case_prefix
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Number of distinct keyword patterns in the automaton.
    pub fn pattern_count(&self) -> usize {
        self.matcher.pattern_count()
    }

    /// Number of rules matched in an already normalized text (the keyword
    /// scan alone, for benchmarks).
    pub fn scan_count(&self, text: &str) -> usize {
        self.matcher.matched(&self.matcher.scan(text)).count()
    }

    /// The classifier's features of a normalized text: its character
    /// n-grams and the keyword rules it matched (training and prediction
    /// must compute them alike).
    pub fn model_features(&self, text: &str) -> Vec<u32> {
        let hits = self.matcher.scan(text);
        crate::classifier::features(text, self.matcher.matched(&hits).map(|(_, id, _)| &**id))
    }

    /// Trains the classifier on labeled contacts (text, kind, category
    /// code) with this router's keyword rules as cues; examples whose
    /// category is not one of the rules' are skipped.
    pub fn train_model(
        &self,
        labeled: &[(&str, Kind, &str)],
        cfg: &crate::classifier::TrainConfig,
    ) -> crate::classifier::Model {
        let categories = self.category_list();
        let examples: Vec<crate::classifier::Example> = labeled
            .iter()
            .filter_map(|&(text, kind, category)| {
                Some(crate::classifier::Example {
                    features: self.model_features(&crate::normalize::normalize_text(text)),
                    kind,
                    category: categories.iter().position(|c| **c == *category)?,
                })
            })
            .collect();
        crate::classifier::Model::train(categories, &examples, cfg)
    }

    /// The district a text names first (its name, short name or one of its
    /// places), as an index into the districts.
    pub fn district_named_in(&self, text: &str) -> Option<usize> {
        let (ac, of) = self.district_places.as_ref()?;
        let text = crate::normalize::normalize_text(text);
        let m = ac.find(&text)?;
        of.get(m.pattern().as_usize()).copied()
    }

    /// The code of district `i`.
    pub fn district_code(&self, i: usize) -> Option<&str> {
        self.district_names.get(i).map(|(c, _)| c.as_str())
    }

    /// Every unit's and line's (code, name): `510802.zjj` → 利州区住房和城乡建设局;
    /// the codes are the bounded set a per-unit metric may be labelled with.
    pub fn unit_targets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.units
            .iter()
            .flat_map(|u| u.targets.iter().flatten())
            .chain(
                self.subcenter
                    .iter()
                    .chain(&self.utility)
                    .map(|l| &l.target),
            )
            .map(|t| (&*t.code, &*t.name))
    }

    /// The category a case sent to unit `unit_code` (a target code such as
    /// `510802.zjj`) belongs to: the first of `alternatives` (category
    /// codes, likeliest first) that the unit handles, else the unit's only
    /// category; none when it handles several and none was an alternative.
    pub fn category_for_unit<'a>(
        &self,
        unit_code: &str,
        alternatives: impl IntoIterator<Item = &'a str>,
    ) -> Option<Arc<str>> {
        let handles = |c: &CategoryRt| {
            self.units
                .get(c.unit)
                .is_some_and(|u| u.targets.iter().flatten().any(|t| &*t.code == unit_code))
        };
        let mine: Vec<&CategoryRt> = self.categories.iter().filter(|c| handles(c)).collect();
        alternatives
            .into_iter()
            .find_map(|a| mine.iter().find(|c| &*c.code == a))
            .or(match mine.as_slice() {
                [only] => Some(only),
                _ => None,
            })
            .map(|c| c.code.clone())
    }

    /// Category codes in rule order (the classifier's category head).
    pub fn category_list(&self) -> Vec<Arc<str>> {
        self.categories.iter().map(|c| c.code.clone()).collect()
    }

    /// Category codes known to the rules, for `category_hint` validation.
    pub fn category_codes(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(|c| &*c.code)
    }

    /// Validates and compiles the rules; returns every error found.
    pub fn build(
        src: RuleSources<'_>,
        calendar: Calendar,
        options: RouterOptions,
    ) -> Result<Router, Vec<RulesError>> {
        let mut errors = Vec::new();
        let [f_kinds, f_cats, f_scope, f_safety, f_units, f_kb] = FILE_NAMES;
        let kinds_f: Option<KindsFile> = parse(f_kinds, src.kinds, &mut errors);
        let cats_f: Option<CategoriesFile> = parse(f_cats, src.categories, &mut errors);
        let scope_f: Option<ScopeFile> = parse(f_scope, src.scope, &mut errors);
        let safety_f: Option<SafetyFile> = parse(f_safety, src.safety, &mut errors);
        let units_f: Option<UnitsFile> = parse(f_units, src.units, &mut errors);
        let kb_f: Option<KbFile> = parse(f_kb, src.kb, &mut errors);
        let (Some(kinds_f), Some(cats_f), Some(scope_f), Some(safety_f), Some(units_f), Some(kb_f)) =
            (kinds_f, cats_f, scope_f, safety_f, units_f, kb_f)
        else {
            return Err(errors);
        };
        // Units first: the other sections name them.
        let mut b = Sections::after(errors);
        let units = b.units(f_units, &units_f);
        let (kinds, default_kind) = b.kinds(f_kinds, &kinds_f);
        let cats = b.categories(f_cats, &cats_f);
        let scope = b.scope(f_scope, &scope_f, &cats.by_code);
        let kb = b.kb(f_kb, &kb_f);
        // Life safety's terms and markers: positional patterns of the same automaton.
        let safety = crate::safety::SafetyRules::build(
            f_safety,
            &safety_f,
            &mut b.matcher,
            &mut b.rule_errors,
        );
        let Sections {
            mut errors,
            rule_errors,
            matcher,
            ..
        } = b;
        errors.extend(rule_errors);
        let matcher = match matcher.build() {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                return Err(errors);
            }
        };
        let category_by_code = cats.by_code;
        let classifier = classifier_rt(src.model, &category_by_code, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Router {
            matcher,
            kinds,
            default_kind,
            categories: cats.categories,
            category_by_code,
            default_category: cats.default,
            empty: scope.empty,
            not_accepted: scope.not_accepted,
            safety,
            classifier,
            subcenter: scope.subcenter,
            utility: scope.utility,
            special: scope.special,
            kb,
            units: units.units,
            district_index: units.district_index,
            city_code: units_f.city.code.clone(),
            district_names: units_f
                .districts
                .iter()
                .map(|d| (d.code.clone(), d.name.clone()))
                .collect(),
            district_places: district_places(&units_f.districts),
            coordinator: units.coordinator,
            local_government: units.local_government,
            area_code: units_f.city.area_code.clone(),
            case_prefix: units_f.city.case_prefix.clone(),
            calendar,
            options,
        })
    }
}
