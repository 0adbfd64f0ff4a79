//! Caller identity across channels (Art. 14(3)): a phone number, a WeChat
//! openid and an app or web account are each an identity (kept only as a
//! keyed hash); a contact carrying several links them, so the same person on
//! the phone and on WeChat is one caller. Each caller holds its recent
//! contacts ([`Entry`]) for repeat detection. Callers live in a slab; an
//! expiry queue forgets contacts older than the repeat window and callers
//! with none left, and a capacity evicts the oldest first (counted).
use super::text::Features;
use std::collections::{HashMap, VecDeque};

/// A case id, stored compactly: `<prefix><yyyymmdd>-<16 hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CaseRef {
    pub date: u32,
    pub hash: u64,
}

impl CaseRef {
    /// Parses a case id made by `decide::case_id` with `prefix`.
    pub fn parse(prefix: &str, id: &str) -> Option<CaseRef> {
        let rest = id.strip_prefix(prefix)?;
        let (date, hash) = rest.split_once('-')?;
        if date.len() != 8 || hash.len() != 16 {
            return None;
        }
        Some(CaseRef {
            date: date.parse().ok()?,
            hash: crate::decide::case_key(rest)?,
        })
    }

    pub fn format(&self, prefix: &str) -> String {
        crate::decide::format_case_id(prefix, self.date, self.hash)
    }
}

/// One earlier contact of a caller.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub contact: u64,
    /// The case this contact belongs to (its own, or the work order it joined).
    pub case: CaseRef,
    /// The matter chain: the case of the caller's first contact on the matter.
    pub chain: CaseRef,
    /// `case` is a work order the hotline follows.
    pub opens_case: bool,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub category: u32,
    pub district: u32,
    pub features: Features,
    /// The problem's types: two problems they tell apart are two matters
    /// of one caller ([`super::rules::DedupRules::repeat_score`]).
    pub types: super::types::TypeSet,
    /// Set on the first contact of a case once its escalation was raised.
    pub escalated: bool,
}

#[derive(Debug, Default)]
struct Caller {
    generation: u32,
    live: bool,
    idents: Vec<u64>,
    entries: Vec<Entry>,
}

/// Every known caller.
#[derive(Debug, Default)]
pub struct Callers {
    slab: Vec<Caller>,
    free: Vec<u32>,
    by_ident: HashMap<u64, u32>,
    /// (contact time, slot, generation) per stored entry, oldest first.
    expiry: VecDeque<(i64, u32, u32)>,
    live: usize,
    pub max_callers: usize,
    pub max_entries: usize,
    pub evicted_callers: u64,
    pub evicted_entries: u64,
}

impl Callers {
    pub fn new(max_callers: usize, max_entries: usize) -> Callers {
        Callers {
            max_callers,
            max_entries,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The caller of these identities (0 = absent), linking them; a new one
    /// when none is known.
    pub fn resolve(&mut self, idents: &[u64]) -> u32 {
        let mut slot: Option<u32> = None;
        for id in idents.iter().filter(|i| **i != 0) {
            let Some(&s) = self.by_ident.get(id) else {
                continue;
            };
            match slot {
                None => slot = Some(s),
                Some(a) if a != s => self.merge(a, s),
                _ => {}
            }
        }
        let slot = match slot {
            Some(s) => s,
            None => self.alloc(),
        };
        for id in idents.iter().filter(|i| **i != 0) {
            if self.by_ident.insert(*id, slot).is_none() {
                if let Some(c) = self.slab.get_mut(slot as usize) {
                    c.idents.push(*id);
                }
            }
        }
        slot
    }

    fn alloc(&mut self) -> u32 {
        while self.live >= self.max_callers.max(1) {
            if !self.evict_oldest() {
                break;
            }
        }
        self.live += 1;
        if let Some(s) = self.free.pop() {
            if let Some(c) = self.slab.get_mut(s as usize) {
                c.live = true;
            }
            return s;
        }
        self.slab.push(Caller {
            live: true,
            ..Default::default()
        });
        (self.slab.len() - 1) as u32
    }

    /// Moves caller `b` into `a`.
    fn merge(&mut self, a: u32, b: u32) {
        let (idents, entries) = match self.slab.get_mut(b as usize) {
            Some(c) => (
                std::mem::take(&mut c.idents),
                std::mem::take(&mut c.entries),
            ),
            None => return,
        };
        for id in &idents {
            self.by_ident.insert(*id, a);
        }
        let gen_a = self.slab.get(a as usize).map(|c| c.generation).unwrap_or(0);
        for e in &entries {
            self.expiry.push_back((e.at, a, gen_a));
        }
        if let Some(c) = self.slab.get_mut(a as usize) {
            c.idents.extend(idents);
            c.entries.extend(entries);
            c.entries.sort_by_key(|e| e.at);
        }
        self.release(b);
    }

    fn release(&mut self, s: u32) {
        if let Some(c) = self.slab.get_mut(s as usize) {
            if !c.live {
                return;
            }
            for id in c.idents.drain(..) {
                if self.by_ident.get(&id) == Some(&s) {
                    self.by_ident.remove(&id);
                }
            }
            c.entries = Vec::new();
            c.idents = Vec::new();
            c.live = false;
            c.generation = c.generation.wrapping_add(1);
            self.free.push(s);
            self.live -= 1;
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((_, s, g)) = self.expiry.pop_front() {
            let ok = self
                .slab
                .get(s as usize)
                .is_some_and(|c| c.live && c.generation == g);
            if ok {
                self.release(s);
                self.evicted_callers += 1;
                return true;
            }
        }
        false
    }

    /// The contacts of caller `slot`.
    pub fn entries(&self, slot: u32) -> &[Entry] {
        self.slab
            .get(slot as usize)
            .map(|c| &c.entries[..])
            .unwrap_or(&[])
    }

    pub fn entries_mut(&mut self, slot: u32) -> &mut [Entry] {
        match self.slab.get_mut(slot as usize) {
            Some(c) => &mut c.entries[..],
            None => &mut [],
        }
    }

    /// Stores a contact of caller `slot`.
    pub fn push(&mut self, slot: u32, e: Entry) {
        let max = self.max_entries.max(1);
        let Some(c) = self.slab.get_mut(slot as usize) else {
            return;
        };
        if c.entries.len() >= max {
            c.entries.remove(0);
            self.evicted_entries += 1;
        }
        self.expiry.push_back((e.at, slot, c.generation));
        // Most callers call once or twice: grow one at a time (a Vec's
        // default first step would reserve four entries).
        if c.entries.len() == c.entries.capacity() {
            c.entries.reserve_exact(1 + c.entries.len() / 2);
        }
        c.entries.push(e);
    }

    /// Forgets contacts at or before `cutoff`, and callers left with none,
    /// except the contacts `held` keeps
    /// (a caller holding one is looked at again once `now` is a window
    /// later: its record goes to the back of the queue at `now`).
    pub fn expire(&mut self, cutoff: i64, now: i64, held: impl Fn(&Entry) -> bool) {
        let mut again = Vec::new();
        while let Some(&(at, s, g)) = self.expiry.front() {
            if at > cutoff {
                break;
            }
            self.expiry.pop_front();
            let empty = match self.slab.get_mut(s as usize) {
                Some(c) if c.live && c.generation == g => {
                    let mut holds = false;
                    c.entries.retain(|e| {
                        let keep = e.at > cutoff || held(e);
                        holds |= keep && e.at <= cutoff;
                        keep
                    });
                    if holds && !again.contains(&(s, g)) {
                        again.push((s, g));
                    }
                    c.entries.is_empty()
                }
                _ => false,
            };
            if empty {
                self.release(s);
            }
        }
        self.expiry
            .extend(again.into_iter().map(|(s, g)| (now, s, g)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(contact: u64, at: i64) -> Entry {
        Entry {
            contact,
            at,
            ..Default::default()
        }
    }

    /// Expiry keeps one record per stored contact: a caller is queued
    /// again only for a contact past the cutoff that `held` keeps, once,
    /// and a stale record of a reused slot queues nothing (found by
    /// cargo-mutants: loosening either test only grew the queue, which no
    /// test looked at, and a queue that grows is memory that grows).
    #[test]
    fn expiry_queues_a_caller_again_only_for_a_held_contact() {
        let mut c = Callers::new(100, 32);
        // One caller, one contact dropped at the cutoff and one newer.
        let a = c.resolve(&[1, 0, 0]);
        c.push(a, entry(1, 100));
        c.push(a, entry(2, 300));
        c.expire(200, 1000, |_| false);
        assert_eq!(c.entries(a).len(), 1);
        assert_eq!(c.expiry.len(), 1, "{:?}", c.expiry);

        // A caller merged into another leaves a stale record on its slot;
        // the slot's next caller holds an old contact.
        let mut c = Callers::new(100, 32);
        let b = c.resolve(&[0, 2, 0]);
        c.push(b, entry(10, 50));
        let p = c.resolve(&[3, 0, 0]);
        c.push(p, entry(11, 40));
        let merged = c.resolve(&[3, 2, 0]);
        assert_eq!(c.len(), 1);
        let gone = if merged == b { p } else { b };
        let next = c.resolve(&[4, 0, 0]);
        assert_eq!(next, gone, "the freed slot is reused");
        assert_ne!(next, merged);
        c.push(next, entry(12, 60));
        let queued = c.expiry.len();
        c.expire(70, 1000, |e| e.contact == 12);
        assert_eq!(contacts_of(&c, next), [12], "held");
        // The merged caller's contacts are gone (and so is the caller); the
        // held contact's caller is queued again at `now`, once.
        assert!(c.entries(merged).is_empty());
        let again: Vec<_> = c.expiry.iter().filter(|r| r.0 == 1000).collect();
        assert_eq!(again.len(), 1, "{:?}", c.expiry);
        assert!(c.expiry.len() < queued, "{:?}", c.expiry);
    }

    /// A caller's contacts grow by half at a time, from one: most callers
    /// call once or twice, and a Vec's own first step would reserve four
    /// (found by cargo-mutants: bytes per indexed contact in BENCHMARKS.md
    /// rest on it, and no test looked).
    #[test]
    fn a_callers_contacts_grow_from_one_by_half() {
        let mut c = Callers::new(10, 32);
        let s = c.resolve(&[9, 0, 0]);
        let capacities: Vec<usize> = (0..6)
            .map(|i| {
                c.push(s, entry(i, i as i64));
                c.slab[s as usize].entries.capacity()
            })
            .collect();
        assert_eq!(capacities, [1, 2, 4, 4, 7, 7]);
    }

    fn contacts_of(c: &Callers, slot: u32) -> Vec<u64> {
        c.entries(slot).iter().map(|e| e.contact).collect()
    }
}
