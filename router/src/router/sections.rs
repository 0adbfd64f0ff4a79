//! `Router::build`, one section at a time: each rules file's section is
//! checked and turned into its runtime form by a method of [`Sections`],
//! which collects every error (all of them are reported at once) and the
//! rules' keywords into one matcher.
use super::{
    district_counterpart, line_target, CategoryRt, EmptyRt, KbRt, KindRt, LineRt, NotAcceptedRt,
    SpecialRt, UnitRt,
};
use crate::matcher::{MatcherBuilder, Stage};
use crate::model::{Kind, Priority, Target, TargetKind};
use crate::rules::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What building collects across sections.
#[derive(Default)]
pub(super) struct Sections {
    /// Errors in the files' values, in file order.
    pub errors: Vec<RulesError>,
    /// Errors in the rules' keywords and ids (reported after `errors`).
    pub rule_errors: Vec<RulesError>,
    pub matcher: MatcherBuilder,
    ids: HashSet<String>,
    unit_index: HashMap<String, usize>,
}

/// `units.toml` at run time.
pub(super) struct UnitsSection {
    pub units: Vec<UnitRt>,
    pub district_index: HashMap<String, usize>,
    pub coordinator: usize,
    pub local_government: Option<usize>,
}

/// `categories.toml` at run time.
pub(super) struct CategoriesSection {
    pub categories: Vec<CategoryRt>,
    pub by_code: HashMap<String, usize>,
    pub default: usize,
}

/// `scope.toml` at run time.
pub(super) struct ScopeSection {
    pub empty: EmptyRt,
    pub not_accepted: Vec<NotAcceptedRt>,
    pub subcenter: Vec<LineRt>,
    pub utility: Vec<LineRt>,
    pub special: Vec<SpecialRt>,
}

impl Sections {
    /// Building that goes on after the files were parsed (with `errors`).
    pub fn after(errors: Vec<RulesError>) -> Sections {
        Sections {
            errors,
            ..Default::default()
        }
    }

    pub fn err(&mut self, file: &str, msg: String) {
        self.errors.push(RulesError {
            file: file.into(),
            msg,
        });
    }

    /// Adds a rule's keywords to the matcher; an id used twice is an error.
    fn add(&mut self, file: &str, r: &dyn Keyworded, stage: Stage) {
        if !self.ids.insert(r.id().to_string()) {
            self.rule_errors.push(RulesError {
                file: file.into(),
                msg: format!("rule id {} used twice", r.id()),
            });
        }
        self.matcher.add(file, r, stage, &mut self.rule_errors);
    }

    /// The index of a unit key (an error, and 0, if there is none).
    fn unit(&mut self, file: &str, key: &str, what: &str) -> usize {
        match self.unit_index.get(key) {
            Some(i) => *i,
            None => {
                self.err(file, format!("{what}: unknown unit key {key:?}"));
                0
            }
        }
    }

    /// Districts, units and the city (units.toml); first, as the other
    /// sections name units.
    pub fn units(&mut self, file: &str, f: &UnitsFile) -> UnitsSection {
        let mut district_index = HashMap::new();
        for (i, d) in f.districts.iter().enumerate() {
            if d.code.len() != 6 || !d.code.bytes().all(|b| b.is_ascii_digit()) {
                self.err(
                    file,
                    format!(
                        "district {}: code {:?} is not a 6-digit division code",
                        d.name, d.code
                    ),
                );
            }
            if district_index.insert(d.code.clone(), i).is_some() {
                self.err(file, format!("district code {} defined twice", d.code));
            }
        }
        let mut units = Vec::new();
        for (i, u) in f.units.iter().enumerate() {
            if self.unit_index.insert(u.key.clone(), i).is_some() {
                self.err(file, format!("unit key {} defined twice", u.key));
            }
            let mut targets = vec![Some(Target {
                kind: TargetKind::Unit,
                code: Arc::from(format!("{}.{}", f.city.code, u.key)),
                name: Arc::from(u.name.as_str()),
            })];
            for d in &f.districts {
                targets.push(district_counterpart(d, u));
            }
            units.push(UnitRt { targets });
        }
        for d in &f.districts {
            if !d.units.is_empty() && d.committee.trim().is_empty() {
                self.err(
                    file,
                    format!(
                        "district {}: `units` is for a zone with a `committee`",
                        d.name
                    ),
                );
            }
            for key in d.units.keys() {
                if !self.unit_index.contains_key(key) {
                    self.err(
                        file,
                        format!("district {}: units: unknown unit key {key:?}", d.name),
                    );
                }
            }
        }
        let coordinator = self.unit(file, &f.city.coordinator, "city.coordinator");
        let local_government = f
            .city
            .local_government
            .as_ref()
            .map(|k| self.unit(file, k, "city.local_government"));
        let c = &f.city;
        if !(c.area_code.starts_with('0')
            && (3..=4).contains(&c.area_code.len())
            && c.area_code.bytes().all(|b| b.is_ascii_digit()))
        {
            self.err(
                file,
                format!(
                    "city.area_code {:?} is not a 3- or 4-digit area code",
                    c.area_code
                ),
            );
        }
        if c.case_prefix.is_empty() || !c.case_prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            self.err(
                file,
                format!(
                    "city.case_prefix {:?} must be ASCII letters or digits",
                    c.case_prefix
                ),
            );
        }
        UnitsSection {
            units,
            district_index,
            coordinator,
            local_government,
        }
    }

    /// The kinds' rules and the default kind (kinds.toml).
    pub fn kinds(&mut self, file: &str, f: &KindsFile) -> (Vec<KindRt>, Kind) {
        let default_kind = Kind::parse(&f.default_kind).unwrap_or_else(|| {
            self.err(
                file,
                format!("default_kind: unknown kind {:?}", f.default_kind),
            );
            Kind::Help
        });
        let mut kinds = Vec::new();
        for (i, r) in f.rules.iter().enumerate() {
            let kind = Kind::parse(&r.kind).unwrap_or_else(|| {
                self.err(file, format!("rule {}: unknown kind {:?}", r.id, r.kind));
                Kind::Help
            });
            kinds.push(KindRt {
                kind,
                weight: r.weight,
            });
            self.add(file, r, Stage::Kind(i));
        }
        (kinds, default_kind)
    }

    /// Categories and their units (categories.toml).
    pub fn categories(&mut self, file: &str, f: &CategoriesFile) -> CategoriesSection {
        let mut categories = Vec::new();
        let mut by_code = HashMap::new();
        for (i, c) in f.categories.iter().enumerate() {
            let u = self.unit(file, &c.unit, &format!("category {}", c.code));
            let co = c
                .co_units
                .iter()
                .map(|k| self.unit(file, k, &format!("category {} co_units", c.code)))
                .collect();
            if by_code.insert(c.code.clone(), i).is_some() {
                self.err(file, format!("category {} defined twice", c.code));
            }
            categories.push(CategoryRt {
                code: Arc::from(c.code.as_str()),
                unit: u,
                locality: c.locality,
                co_units: co,
            });
            self.add(file, c, Stage::Category(i));
        }
        let default = match by_code.get(&f.default_category) {
            Some(i) => *i,
            None => {
                self.err(
                    file,
                    format!(
                        "default_category {:?} is not a defined category",
                        f.default_category
                    ),
                );
                0
            }
        };
        CategoriesSection {
            categories,
            by_code,
            default,
        }
    }

    /// What the hotline does not take, sub-center and utility lines and
    /// special matters (scope.toml).
    pub fn scope(
        &mut self,
        file: &str,
        f: &ScopeFile,
        categories: &HashMap<String, usize>,
    ) -> ScopeSection {
        let e = &f.empty;
        let filler = crate::scope::Filler::new(&e.filler);
        let empty = EmptyRt {
            id: Arc::from(e.id.as_str()),
            guidance: Arc::from(e.guidance.as_str()),
            min_chars: e.min_chars,
            filler,
        };
        let mut not_accepted = Vec::new();
        for (i, r) in f.not_accepted.iter().enumerate() {
            not_accepted.push(NotAcceptedRt {
                guidance: Arc::from(r.guidance.as_str()),
            });
            self.add(file, r, Stage::NotAccepted(i));
        }
        for (i, r) in f.scope_check.iter().enumerate() {
            self.add(file, r, Stage::ScopeCheck(i));
        }
        let mut subcenter = Vec::new();
        for (i, r) in f.subcenter.iter().enumerate() {
            subcenter.push(LineRt {
                target: line_target(&r.line, &r.name),
                guidance: Arc::from(r.guidance.as_str()),
                supervisor: None,
                category: None,
            });
            self.add(file, r, Stage::Subcenter(i));
        }
        let mut utility = Vec::new();
        for (i, r) in f.utility.iter().enumerate() {
            let sup = self.unit(file, &r.supervisor, &format!("utility {}", r.id));
            if !categories.contains_key(&r.category) {
                self.err(
                    file,
                    format!("utility {}: unknown category {:?}", r.id, r.category),
                );
            }
            utility.push(LineRt {
                target: line_target(&r.line, &r.name),
                guidance: Arc::from(r.guidance.as_str()),
                supervisor: Some(sup),
                category: Some(Arc::from(r.category.as_str())),
            });
            self.add(file, r, Stage::Utility(i));
        }
        let mut special = Vec::new();
        for (i, r) in f.special.iter().enumerate() {
            let p = match Priority::parse(&r.priority) {
                Some(p @ (Priority::Special | Priority::SpecialEmergency)) => p,
                _ => {
                    self.err(
                        file,
                        format!(
                            "special {}: priority {:?} must be special or special_emergency",
                            r.id, r.priority
                        ),
                    );
                    Priority::Special
                }
            };
            let units = r
                .units
                .iter()
                .map(|k| self.unit(file, k, &format!("special {}", r.id)))
                .collect();
            special.push(SpecialRt { priority: p, units });
            self.add(file, r, Stage::Special(i));
        }
        ScopeSection {
            empty,
            not_accepted,
            subcenter,
            utility,
            special,
        }
    }

    /// The knowledge base's answers (kb.toml).
    pub fn kb(&mut self, file: &str, f: &KbFile) -> Vec<KbRt> {
        let mut kb = Vec::new();
        for (i, r) in f.entries.iter().enumerate() {
            kb.push(KbRt {
                target: Target {
                    kind: TargetKind::Knowledge,
                    code: Arc::from(r.id.as_str()),
                    name: Arc::from(r.title.as_str()),
                },
                answer: Arc::from(r.answer.as_str()),
            });
            self.add(file, r, Stage::Kb(i));
        }
        kb
    }
}
