//! The cities a node serves (README.md, "Tenants"): each one's admit — its
//! rules, store and state — and which of them a contact or event is for.
//! A tenant is named by its city's division code (`[city] code` of its
//! `units.toml`, e.g. "510800"); its case ids carry its own prefix.
use super::pipeline::Refusal;
use super::Shared;
use hotline_proto::v1 as pb;
use std::sync::Arc;

/// Every tenant's admit; the first is the default tenant (`[rules]`).
#[derive(Clone)]
pub struct Tenants {
    all: Arc<[Shared]>,
}

/// Why a record names no tenant this node serves.
fn unknown(code: &str) -> Refusal {
    Refusal {
        code: "UNKNOWN_TENANT",
        field: "tenant",
        message: format!("no tenant {code:?} is served here (README.md, \"Tenants\")"),
    }
}

impl Tenants {
    /// The tenants, the default first; `None` when there is none.
    pub fn new(all: Vec<Shared>) -> Option<Tenants> {
        (!all.is_empty()).then(|| Tenants { all: all.into() })
    }

    /// The default tenant: contacts that name no served city go to it.
    pub fn default_tenant(&self) -> &Shared {
        // `new` refuses an empty list.
        &self.all[0]
    }

    /// Every tenant, the default first.
    pub fn all(&self) -> &[Shared] {
        &self.all
    }

    /// The tenant at `i` of [`all`](Self::all) (the default one when out of range).
    pub fn at(&self, i: usize) -> &Shared {
        self.all.get(i).unwrap_or(self.default_tenant())
    }

    /// The tenant with this city code.
    pub fn get(&self, code: &str) -> Option<usize> {
        self.all.iter().position(|s| &*s.tenant == code)
    }

    /// Which tenant a contact is for: the one its `tenant` field names (an
    /// unknown one is refused), else its district code's city when served
    /// here (510802 → 510800), else the default tenant.
    pub fn of_contact(&self, c: &pb::Contact) -> Result<usize, Refusal> {
        if !c.tenant.is_empty() {
            return self.get(&c.tenant).ok_or_else(|| unknown(&c.tenant));
        }
        if self.all.len() == 1 {
            return Ok(0);
        }
        // Tenant codes are a city's (six digits ending in 00, checked at
        // start): the city of 510802 is the code starting 5108.
        let district = c.location.as_ref().map_or("", |l| l.district_code.as_str());
        Ok(city_digits(district)
            .and_then(|p| self.all.iter().position(|s| s.tenant.starts_with(p)))
            .unwrap_or(0))
    }

    /// Which tenant a call event is for: the one it names, else the default.
    pub fn of_call(&self, e: &pb::CallEvent) -> Result<usize, Refusal> {
        if e.tenant.is_empty() {
            return Ok(0);
        }
        self.get(&e.tenant).ok_or_else(|| unknown(&e.tenant))
    }

    /// Which tenant a case id is of: the one whose prefix it starts with,
    /// followed by the date's digits; else the default (which then finds
    /// no such case).
    pub fn of_case(&self, case_id: &str) -> usize {
        self.all
            .iter()
            .position(|s| {
                case_id
                    .strip_prefix(s.pipeline.router().case_prefix())
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
            .unwrap_or(0)
    }
}

/// The city part of a district code: its first four digits (GB/T 2260);
/// the city's own code is these and "00".
fn city_digits(district_code: &str) -> Option<&str> {
    let d = district_code.trim();
    (d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit())).then(|| &d[..4])
}
