//! A contact as dedup sees it and stores it ([`MatterRecord`]): keyed
//! hashes of the caller, time, district, category, the text's features;
//! built from a decision, and its byte codec.
use super::callers::CaseRef;
use super::follow_up::Reference;
use super::text::{Features, Problem};
use super::*;
use crate::model::{Contact, Decision, Priority, RouteKind};
use crate::normalize::normalize_phone;
use crate::router::Router;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// What dedup needs of one contact, and all it stores (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct MatterRecord {
    pub contact: u64,
    /// Keyed hashes of phone, openid and account (0 when absent).
    pub idents: [u64; 3],
    pub at: i64,
    pub district: u32,
    pub category: u32,
    /// The category is one whose hotspots become special matters.
    pub special_category: bool,
    /// What the text says of the caller's earlier contacts
    /// ([`super::follow_up`]).
    pub follow_up: Reference,
    /// The matters, places and rest of the text.
    pub features: Features,
    /// The problem's telling characters and the classifier's categories.
    pub problem: Problem,
    /// The contact's own case.
    pub case: CaseRef,
    /// The decision opens a work order the hotline follows (work order or
    /// special matter): a later repeat joins it rather than opening another.
    pub opens_case: bool,
    pub lead_unit: Option<Arc<str>>,
}

fn keyed(secret: &[u8; 32], key: &str) -> u64 {
    let h = blake3::keyed_hash(secret, key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b).max(1)
}

/// Routes whose contacts are matters the hotline records and follows:
/// not refusals, nor sub-center transfers (another hotline's cases).
/// Emergency transfers count: ten calls about one gas smell are a hotspot.
pub fn eligible(route: RouteKind) -> bool {
    matches!(
        route,
        RouteKind::WorkOrder
            | RouteKind::UtilityLinkage
            | RouteKind::DirectAnswer
            | RouteKind::EmergencyTransfer
    )
}

/// The record of a decided contact, or `None` when dedup does not apply.
pub fn record(
    router: &Router,
    rules: &DedupRules,
    contact: &Contact,
    d: &Decision,
) -> Option<MatterRecord> {
    let cfg = &rules.cfg;
    if !eligible(d.route) {
        return None;
    }
    let secret = &router.options.caller_secret;
    let area_code = &router.area_code;
    let case_prefix = &router.case_prefix;
    let c = &contact.caller;
    let mut idents = [0u64; 3];
    if let Some(p) = normalize_phone(c.phone.trim(), area_code) {
        idents[0] = keyed(secret, &p);
    }
    if !c.wechat_openid.trim().is_empty() {
        idents[1] = keyed(secret, &format!("wx:{}", c.wechat_openid.trim()));
    }
    if !c.account_id.trim().is_empty() {
        idents[2] = keyed(secret, &format!("acct:{}", c.account_id.trim()));
    }
    // The decision carries the district inferred from the address or text.
    let district = d.district_code.trim();
    let (features, mut problem, follow_up) = rules
        .lexicon
        .record_parts(&contact.content, &contact.location.address);
    match &d.confidence {
        Some(c) if !c.categories.is_empty() => {
            problem.set_categories(c.categories.iter().map(|(name, p)| (name.as_ref(), *p)))
        }
        _ => problem.set_categories([(d.category.as_ref(), 1.0)]),
    }
    Some(MatterRecord {
        contact: xxh3_64(contact.contact_id.as_bytes()),
        idents,
        at: d.received_at.timestamp(),
        district: district_key(district),
        category: xxh3_64(d.category.as_bytes()) as u32,
        special_category: features.matters & rules.special_matters != 0
            || cfg.special_on_hotspot.iter().any(|c| **c == *d.category),
        follow_up,
        features,
        problem,
        case: CaseRef::parse(case_prefix, &d.case_id)?,
        opens_case: d.route == RouteKind::WorkOrder || d.priority != Priority::Normal,
        lead_unit: d.lead_unit.clone(),
    })
}

impl MatterRecord {
    /// 3 added the terms, 4 the follow-up flag (bit 1 of the flags byte),
    /// 5 the problem types, 6 the names, 7 the weaker references (bit 2
    /// going on, bit 3 another matter); a version-2 record reads with no
    /// terms, 2 and 3 as no follow-up, 2 to 4 with no types, 2 to 5 with
    /// no names, 2 to 6 with no weaker reference.
    const VERSION: u8 = 7;

    /// A compact binary form, stored next to the decision.
    pub fn to_bytes(&self) -> Vec<u8> {
        // About 180 bytes and the lead unit's code: one allocation.
        let mut b = Vec::with_capacity(224);
        b.push(Self::VERSION);
        b.extend_from_slice(&self.contact.to_le_bytes());
        for i in self.idents {
            b.extend_from_slice(&i.to_le_bytes());
        }
        b.extend_from_slice(&self.at.to_le_bytes());
        b.extend_from_slice(&self.district.to_le_bytes());
        b.extend_from_slice(&self.category.to_le_bytes());
        let reference = match self.follow_up {
            Reference::None => 0,
            Reference::RefersBack => 2,
            Reference::Continues => 4,
            Reference::Another => 8,
        };
        b.push(u8::from(self.special_category) | reference);
        let f = &self.features;
        b.extend_from_slice(&f.matters.to_le_bytes());
        for p in f.places {
            b.extend_from_slice(&p.to_le_bytes());
        }
        b.extend_from_slice(&f.sketch.len.to_le_bytes());
        for m in f.sketch.mins {
            b.extend_from_slice(&m.to_le_bytes());
        }
        let p = &self.problem;
        for t in p.terms {
            b.extend_from_slice(&t.to_le_bytes());
        }
        for c in p.cats {
            b.extend_from_slice(&c.to_le_bytes());
        }
        b.extend_from_slice(&p.cat_p);
        for t in p.types.ids {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(&p.types.p);
        for x in p.names {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&self.case.date.to_le_bytes());
        b.extend_from_slice(&self.case.hash.to_le_bytes());
        b.push(u8::from(self.opens_case));
        let unit = self.lead_unit.as_deref().unwrap_or_default().as_bytes();
        let n = unit.len().min(u16::MAX as usize);
        b.extend_from_slice(&(n as u16).to_le_bytes());
        b.extend_from_slice(&unit[..n]);
        b
    }

    /// Reads [`to_bytes`](Self::to_bytes); `None` for anything else.
    pub fn from_bytes(b: &[u8]) -> Option<MatterRecord> {
        let mut r = Reader { b, at: 0 };
        let version = r.u8()?;
        if !(2..=Self::VERSION).contains(&version) {
            return None;
        }
        let contact = r.u64()?;
        let idents = [r.u64()?, r.u64()?, r.u64()?];
        let at = r.u64()? as i64;
        let district = r.u32()?;
        let category = r.u32()?;
        let flags = r.u8()?;
        let (special_category, follow_up) = if version >= 4 {
            let reference = if flags & 8 != 0 {
                Reference::Another
            } else if flags & 2 != 0 {
                Reference::RefersBack
            } else if flags & 4 != 0 {
                Reference::Continues
            } else {
                Reference::None
            };
            (flags & 1 != 0, reference)
        } else {
            (flags != 0, Reference::None)
        };
        let matters = r.u64()?;
        let places = [r.u32()?, r.u32()?, r.u32()?];
        let len = r.u16()?;
        let mut mins = [0u16; text::K];
        for m in mins.iter_mut() {
            *m = r.u16()?;
        }
        let mut problem = Problem::default();
        if version >= 3 {
            let mut terms = [0u16; rarity::TERMS];
            for t in terms.iter_mut() {
                *t = r.u16()?;
            }
            problem.set_terms(terms);
            for c in problem.cats.iter_mut() {
                *c = r.u16()?;
            }
            for p in problem.cat_p.iter_mut() {
                *p = r.u8()?;
            }
        }
        if version >= 5 {
            for t in problem.types.ids.iter_mut() {
                *t = r.u16()?;
            }
            for p in problem.types.p.iter_mut() {
                *p = r.u8()?;
            }
        }
        if version >= 6 {
            for x in problem.names.iter_mut() {
                *x = r.u32()?;
            }
        }
        let case = CaseRef {
            date: r.u32()?,
            hash: r.u64()?,
        };
        let opens_case = r.u8()? != 0;
        let n = r.u16()? as usize;
        let unit = std::str::from_utf8(r.take(n)?).ok()?;
        Some(MatterRecord {
            contact,
            idents,
            at,
            district,
            category,
            special_category,
            follow_up,
            features: Features {
                matters,
                places,
                sketch: text::Sketch { mins, len },
            },
            problem,
            case,
            opens_case,
            lead_unit: (!unit.is_empty()).then(|| Arc::from(unit)),
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// The key of a district code in a record (0: no district).
pub fn district_key(district: &str) -> u32 {
    if district.is_empty() {
        0
    } else {
        (xxh3_64(district.as_bytes()) as u32).max(1)
    }
}
