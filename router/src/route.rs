//! Stage 4, route (Art. 12): a direct answer from the knowledge base (直办),
//! or a work order (转办) to the unit of the category — the district's
//! counterpart when the category is handled locally (属地管理), else the
//! city-level unit (按职承办, 行业主管) — with co-units when several units
//! are involved (牵办).
use crate::classify::Classification;
use crate::ids;
use crate::matcher::{Hits, Stage};
use crate::model::{Kind, RouteKind, Target};
use crate::router::Router;
use std::sync::Arc;

/// Outcome of ordinary routing.
#[derive(Debug, Clone)]
pub struct Routed {
    pub route: RouteKind,
    pub targets: Vec<Target>,
    pub lead_unit: Option<Arc<str>>,
    pub co_units: Vec<Arc<str>>,
    /// The direct answer, for `DIRECT_ANSWER`.
    pub answer: Option<Arc<str>>,
}

/// The target of `unit` for a contact in `district` (index into the city's
/// districts), honouring locality.
pub(crate) fn unit_target(
    router: &Router,
    unit: usize,
    district: Option<usize>,
    locality: bool,
) -> Option<&Target> {
    let u = router.units.get(unit)?;
    if locality {
        if let Some(Some(t)) = district.and_then(|d| u.targets.get(d + 1)) {
            return Some(t);
        }
    }
    u.targets.first().and_then(Option::as_ref)
}

/// Index of the contact's district; without a code, the district its
/// address names, else the one its text names.
pub(crate) fn district(
    router: &Router,
    contact: &crate::model::Contact,
    rule_ids: &mut Vec<Arc<str>>,
) -> Option<usize> {
    let code = contact.location.district_code.trim();
    if code.is_empty() {
        if let Some(d) = router.district_named_in(&contact.location.address) {
            rule_ids.push(ids::ROUTE_DISTRICT_FROM_ADDRESS.clone());
            return Some(d);
        }
        let d = router.district_named_in(&contact.content)?;
        rule_ids.push(ids::ROUTE_DISTRICT_FROM_TEXT.clone());
        return Some(d);
    }
    // Any other code was refused (`decide::admissible`); the city's own
    // code names no district.
    router.district_index.get(code).copied()
}

/// Routes a contact that scope left to the hotline.
pub fn route(
    router: &Router,
    class: &Classification,
    district: Option<usize>,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> Routed {
    if class.kind == Kind::Consultation {
        let best = router
            .matcher
            .matched(hits)
            .filter_map(|(s, id, n)| match s {
                Stage::Kb(i) => Some((i, n, id)),
                _ => None,
            })
            .fold(None::<(usize, u32, &Arc<str>)>, |best, m| match best {
                Some(b) if b.1 >= m.1 => Some(b),
                _ => Some(m),
            });
        if let Some((i, _, id)) = best {
            rule_ids.push(ids::ROUTE_DIRECT_ANSWER.clone());
            rule_ids.push(id.clone());
            let kb = &router.kb[i];
            return Routed {
                route: RouteKind::DirectAnswer,
                targets: vec![kb.target.clone()],
                lead_unit: None,
                co_units: Vec::new(),
                answer: Some(kb.answer.clone()),
            };
        }
    }
    let cat = &router.categories[class.category];
    let lead_idx = if class.category == router.default_category {
        router.coordinator
    } else {
        cat.unit
    };
    let local = cat.locality && district.is_some();
    rule_ids.push(if local {
        ids::ROUTE_LOCALITY.clone()
    } else {
        ids::ROUTE_FUNCTION.clone()
    });
    let mut targets: Vec<Target> = unit_target(router, lead_idx, district, cat.locality)
        .into_iter()
        .cloned()
        .collect();
    let mut co: Vec<(usize, bool)> = cat.co_units.iter().map(|&u| (u, false)).collect();
    for &s in &class.secondary {
        let c = &router.categories[s];
        co.push((c.unit, c.locality));
    }
    for (u, locality) in co {
        if let Some(t) = unit_target(router, u, district, locality) {
            if !targets.iter().any(|x| x.code == t.code) {
                targets.push(t.clone());
            }
        }
    }
    if targets.len() > 1 {
        rule_ids.push(ids::ROUTE_MULTI_UNIT.clone());
    }
    let lead_unit = targets.first().map(|t| t.code.clone());
    let co_units = targets.iter().skip(1).map(|t| t.code.clone()).collect();
    Routed {
        route: RouteKind::WorkOrder,
        targets,
        lead_unit,
        co_units,
        answer: None,
    }
}
