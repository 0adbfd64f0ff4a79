//! Which tenants this node decides for (README.md, "More than one node"),
//! as the sinks check it before storing or publishing a tenant's work. On
//! one node every tenant is owned, always. With `[kafka.cluster]` a
//! tenant is owned while the node holds its partition of the by-tenant
//! topic (consumer-group assignment) and has restored its state from the
//! changelog; its records wait meanwhile, its clocks raise nothing and its
//! outbox publishes nothing. Each assignment starts a new epoch: work
//! decided in an earlier one is not stored (the committer checks).
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// A tenant's state on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// Another node's (or nobody's): nothing is decided here.
    Unowned = 0,
    /// Assigned here; its state is being restored.
    Restoring = 1,
    /// Decided here.
    Owned = 2,
}

/// One tenant's ownership.
#[derive(Debug)]
pub struct Owner {
    stage: AtomicU8,
    epoch: AtomicU64,
    changed: Notify,
}

impl Owner {
    /// Owned from the start, for good (one node).
    pub fn always() -> Arc<Owner> {
        Arc::new(Owner {
            stage: AtomicU8::new(Stage::Owned as u8),
            epoch: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    /// Not owned until assigned (a cluster's node).
    pub fn unowned() -> Arc<Owner> {
        Arc::new(Owner {
            stage: AtomicU8::new(Stage::Unowned as u8),
            epoch: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    pub fn stage(&self) -> Stage {
        match self.stage.load(Ordering::SeqCst) {
            2 => Stage::Owned,
            1 => Stage::Restoring,
            _ => Stage::Unowned,
        }
    }

    pub fn is_owned(&self) -> bool {
        self.stage() == Stage::Owned
    }

    /// The current epoch: bumped by every assignment and revocation.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The epoch, if owned now: what work begun now carries.
    pub fn owned_epoch(&self) -> Option<u64> {
        let e = self.epoch();
        (self.is_owned() && self.epoch() == e).then_some(e)
    }

    /// Whether work begun in `epoch` may still be stored.
    pub fn current(&self, epoch: u64) -> bool {
        self.is_owned() && self.epoch() == epoch
    }

    /// Assigned here: restoring, in a new epoch.
    pub fn assign(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.stage.store(Stage::Restoring as u8, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Restored: owned.
    pub fn restored(&self) {
        self.stage.store(Stage::Owned as u8, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Revoked (or fenced): not owned, in a new epoch.
    pub fn revoke(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.stage.store(Stage::Unowned as u8, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Resolves once the epoch is no longer `epoch` (assigned or revoked since).
    pub async fn moved_from(&self, epoch: u64) {
        loop {
            let changed = self.changed.notified();
            if self.epoch() != epoch {
                return;
            }
            changed.await;
        }
    }

    /// Waits until owned; `None` if `shutdown` turns true first. Returns
    /// the epoch it is owned in.
    pub async fn owned(&self, shutdown: &mut watch::Receiver<bool>) -> Option<u64> {
        loop {
            let changed = self.changed.notified();
            if self.is_owned() {
                return Some(self.epoch());
            }
            if *shutdown.borrow() {
                return None;
            }
            tokio::select! {
                _ = changed => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// The check the outboxes make before each publish, so that a node that
/// lost its group membership (paused past its session, say) publishes
/// nothing more: set by the by-tenant consumer (a synchronous offset
/// commit, which the group coordinator refuses from a member it has
/// dropped). Passes when unset (one node).
///
/// A check the coordinator accepted stands for a lease (`set_lease`;
/// README.md, "More than one node"; why it is safe: `fence_lease` in the
/// Kafka config): within it the outboxes publish without a round trip, and
/// from half of it on one of them renews it in the background. A failed
/// check or a pause past the session ends it, and a proof begun before
/// that does not bring it back.
#[derive(Default)]
pub struct Fence {
    check: Mutex<Option<FenceCheck>>,
    /// When the pause watchdog last ran (`Fence::watch`), in ms of `origin`.
    alive_ms: AtomicU64,
    origin: std::sync::OnceLock<std::time::Instant>,
    /// When the last passing check started, in ms of `origin` (0: none
    /// stands).
    proven_ms: AtomicU64,
    /// When the lease was last ended (a failed check, a pause past the
    /// session), in ms of `origin`: a pass of a check begun before it
    /// does not stand. Written under its lock with `proven_ms`.
    ended_ms: Mutex<u64>,
    /// How long a passing check stands, in ms (0: every batch checks).
    lease_ms: AtomicU64,
    /// A renewal of the lease is under way.
    renewing: AtomicBool,
}

/// How often the pause watchdog runs, and how stale its mark may be before
/// the outboxes wait for it (a process just resumed from a pause).
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
const STALE: std::time::Duration = std::time::Duration::from_millis(500);

/// What a membership check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// The group coordinator accepted the node's commit: a lease starts.
    Proven,
    /// Only the node's own assignment says so (nothing committed yet to
    /// test with): this batch passes, no lease starts.
    Assumed,
    /// Refused, or no answer: the lease ends.
    Lost,
}

/// Whether this node is still a member of its group's current generation.
pub type FenceCheck = Arc<dyn Fn() -> Membership + Send + Sync>;

impl Fence {
    pub fn set(&self, f: FenceCheck) {
        if let Ok(mut c) = self.check.lock() {
            *c = Some(f);
        }
    }

    /// How long a passing check lets the outboxes publish without another.
    pub fn set_lease(&self, lease: std::time::Duration) {
        let ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        self.lease_ms.store(ms, Ordering::SeqCst);
    }

    fn now_ms(&self) -> u64 {
        let origin = *self.origin.get_or_init(std::time::Instant::now);
        u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The pause watchdog: every 100 ms it marks the node alive; a gap
    /// longer than `session` (the process was stopped, or starved, past its
    /// group session) means the group has dropped it, so every tenant in
    /// `owners` is revoked at once, before anything else may publish —
    /// the group's next assignment restores them. Runs until `shutdown`.
    pub async fn watch(
        &self,
        session: std::time::Duration,
        owners: Vec<Arc<Owner>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut last = std::time::Instant::now();
        loop {
            // Never 0, which says the watchdog has not run yet.
            self.alive_ms.store(self.now_ms().max(1), Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
            let gap = last.elapsed();
            last = std::time::Instant::now();
            if gap > session {
                tracing::warn!(
                    paused_ms = u64::try_from(gap.as_millis()).unwrap_or(u64::MAX),
                    "cluster: this node was paused past its group session; its tenants are decided elsewhere until assigned again"
                );
                crate::telemetry::metrics::paused_past_session();
                self.end_lease();
                for o in &owners {
                    if o.stage() != Stage::Unowned {
                        o.revoke();
                    }
                }
            }
        }
    }

    /// Whether the outboxes may publish now: the pause watchdog ran lately
    /// (after a pause, it runs — and revokes — first), and the consumer's
    /// check passed within the lease, or passes now.
    pub async fn passes(self: &Arc<Self>) -> bool {
        let now = self.now_ms();
        let alive = self.alive_ms.load(Ordering::SeqCst);
        if alive > 0 && now.saturating_sub(alive) > STALE.as_millis() as u64 {
            return false;
        }
        // Only a check that ran proves anything: with none set, no lease.
        let (proven, lease) = (
            self.proven_ms.load(Ordering::SeqCst),
            self.lease_ms.load(Ordering::SeqCst),
        );
        let age = now.saturating_sub(proven);
        let standing = proven > 0 && age < lease;
        if standing && (age < lease / 2 || self.renewing.swap(true, Ordering::SeqCst)) {
            return true;
        }
        let check = self.check.lock().ok().and_then(|c| c.clone());
        let Some(check) = check else {
            // (Standing here means this call took the renewal: give it back.)
            self.renewing.fetch_and(!standing, Ordering::SeqCst);
            return true;
        };
        if standing {
            let fence = self.clone();
            tokio::spawn(async move {
                fence.run(check).await;
                fence.renewing.store(false, Ordering::SeqCst);
            });
            return true;
        }
        self.run(check).await
    }

    /// Runs the check on a blocking thread (it waits for the group
    /// coordinator); a proof stands from when it started, unless the lease
    /// was ended while it ran (a check begun later failed, or a pause), in
    /// which case it does not pass either.
    async fn run(&self, check: FenceCheck) -> bool {
        let started = self.now_ms().max(1);
        let found = tokio::task::spawn_blocking(move || check())
            .await
            .unwrap_or(Membership::Lost);
        let Ok(mut ended) = self.ended_ms.lock() else {
            return false;
        };
        match found {
            _ if *ended >= started => false,
            Membership::Proven => {
                self.proven_ms.fetch_max(started, Ordering::SeqCst);
                true
            }
            Membership::Assumed => true,
            Membership::Lost => {
                self.end_lease_locked(&mut ended);
                false
            }
        }
    }

    /// Ends the lease: the next batch waits for a check begun after now.
    fn end_lease(&self) {
        let mut ended = self.ended_ms.lock().unwrap_or_else(|e| e.into_inner());
        self.end_lease_locked(&mut ended);
    }

    fn end_lease_locked(&self, ended: &mut u64) {
        *ended = self.now_ms().max(1);
        self.proven_ms.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Waits up to 5 s for `f`.
    async fn until(f: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// A node stopped past its session (here: the whole runtime blocked, as
    /// SIGSTOP stops the process) gives every tenant up, and the outboxes'
    /// fence holds from the moment it resumes until the watchdog has run.
    #[tokio::test(flavor = "current_thread")]
    async fn a_pause_past_the_session_gives_every_tenant_up_before_the_fence_passes() {
        let fence = Arc::new(Fence::default());
        let owner = Owner::unowned();
        owner.assign();
        owner.restored();
        let (stop, stopped) = watch::channel(false);
        let (f, owners) = (fence.clone(), vec![owner.clone()]);
        let task =
            tokio::spawn(async move { f.watch(Duration::from_millis(300), owners, stopped).await });
        assert!(until(|| fence.alive_ms.load(Ordering::SeqCst) > 0).await);
        assert!(fence.passes().await, "a live node publishes");
        // A short stall (under the session) changes nothing.
        std::thread::sleep(Duration::from_millis(150));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(owner.is_owned());
        // Stopped past the session: on resuming, the fence holds at once…
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !fence.passes().await,
            "resumed: nothing published before the watchdog ran"
        );
        // …and the watchdog gives the tenant up.
        assert!(until(|| !owner.is_owned()).await, "the tenant is given up");
        assert!(
            fence.passes().await,
            "then the fence passes (the tenant no longer publishes)"
        );
        let _ = stop.send(true);
        let _ = task.await;
    }

    /// A check that counts its calls and answers `ok`.
    fn counted(ok: Arc<AtomicBool>) -> (FenceCheck, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let check: FenceCheck = Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            if ok.load(Ordering::SeqCst) {
                Membership::Proven
            } else {
                Membership::Lost
            }
        });
        (check, calls)
    }

    /// Within its lease a passing check is not made again; from half of
    /// it on, one renewal runs in the background while batches go on.
    #[tokio::test]
    async fn a_passing_check_stands_for_its_lease_and_is_renewed_in_the_background() {
        let fence = Arc::new(Fence::default());
        let (check, calls) = counted(Arc::new(AtomicBool::new(true)));
        fence.set(check);
        fence.set_lease(Duration::from_millis(3000));
        for _ in 0..20 {
            assert!(fence.passes().await);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one check for the lease");
        tokio::time::sleep(Duration::from_millis(1700)).await;
        for _ in 0..20 {
            assert!(fence.passes().await, "the lease still stands");
        }
        assert!(
            until(|| calls.load(Ordering::SeqCst) == 2).await,
            "renewed once"
        );
        assert!(until(|| !fence.renewing.load(Ordering::SeqCst)).await);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(fence.passes().await);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the renewal stands");
    }

    /// A renewal that fails ends the lease: the next batch waits for a
    /// check of its own, which fails too.
    #[tokio::test]
    async fn a_failed_renewal_ends_the_lease() {
        let fence = Arc::new(Fence::default());
        let ok = Arc::new(AtomicBool::new(true));
        let (check, calls) = counted(ok.clone());
        fence.set(check);
        fence.set_lease(Duration::from_millis(3000));
        assert!(fence.passes().await);
        ok.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1700)).await;
        assert!(fence.passes().await, "within the lease, renewing");
        assert!(until(|| fence.proven_ms.load(Ordering::SeqCst) == 0).await);
        assert!(
            !fence.passes().await,
            "the lease ended with the failed check"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// Past the lease nothing passes on the old check; with no lease set
    /// (the default) every batch checks.
    #[tokio::test]
    async fn past_the_lease_a_batch_waits_for_a_new_check() {
        let fence = Arc::new(Fence::default());
        let ok = Arc::new(AtomicBool::new(true));
        let (check, calls) = counted(ok.clone());
        fence.set(check);
        assert!(fence.passes().await && fence.passes().await);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "no lease: a check each");
        fence.set_lease(Duration::from_millis(2000));
        assert!(fence.passes().await);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the last check stands");
        ok.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2200)).await;
        assert!(
            !fence.passes().await,
            "the lease is over and the check fails"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// A renewal that passes only after a later check failed does not
    /// bring the lease back: the failure is newer than what it proves.
    #[tokio::test]
    async fn a_pass_begun_before_a_failure_does_not_bring_the_lease_back() {
        let fence = Arc::new(Fence::default());
        let calls = Arc::new(AtomicU64::new(0));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        let c = calls.clone();
        fence.set(Arc::new(move || match c.fetch_add(1, Ordering::SeqCst) {
            0 => Membership::Proven,
            // The background renewal: passes, once let go.
            1 => match released
                .lock()
                .map(|r| r.recv_timeout(Duration::from_secs(20)).is_ok())
            {
                Ok(true) => Membership::Proven,
                _ => Membership::Lost,
            },
            _ => Membership::Lost,
        }));
        fence.set_lease(Duration::from_millis(3000));
        assert!(fence.passes().await);
        tokio::time::sleep(Duration::from_millis(1700)).await;
        assert!(fence.passes().await, "within the lease; renewing");
        assert!(until(|| calls.load(Ordering::SeqCst) == 2).await);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!fence.passes().await, "the lease is over and a check fails");
        let _ = release.send(());
        assert!(until(|| !fence.renewing.load(Ordering::SeqCst)).await);
        assert!(!fence.passes().await, "the older pass does not stand");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    /// A check that has only the node's own assignment to go by passes
    /// its batch but starts no lease: the next batch checks again.
    #[tokio::test]
    async fn an_assumed_membership_passes_one_batch_and_starts_no_lease() {
        let fence = Arc::new(Fence::default());
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        fence.set(Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Membership::Assumed
        }));
        fence.set_lease(Duration::from_millis(3000));
        assert!(fence.passes().await && fence.passes().await);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
