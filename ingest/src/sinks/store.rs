//! The embedded store: one SQLite database in WAL mode holding every decision
//! (keyed by contact_id, the idempotency key) and every reported call and
//! order event. Synchronous; the committer thread owns the writing
//! connection, commands open their own read-only one.
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "hotline.db";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no database at {0}")]
    Missing(PathBuf),
    #[error("stored record unreadable: {0}")]
    Corrupt(String),
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// With `[kafka.cluster]`: the tenant's partition moved (or is being
    /// restored) since the work began; its new owner decides it.
    #[error("the tenant is not decided on this node now (its partition moved)")]
    NotOwner,
    /// The database file was removed or replaced under the running daemon:
    /// what it would commit goes to a file no restart reads.
    #[error("the store file {0} was removed or replaced while the daemon ran: nothing more is acknowledged; restart hotlined")]
    Replaced(PathBuf),
}

/// A decision row to insert.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub contact_id: String,
    pub case_id: String,
    pub route: &'static str,
    pub received_at_ms: i64,
    pub decided_at_ms: i64,
    /// The `hotline.v1.Decision` protobuf encoding.
    pub body: Vec<u8>,
    /// The dedup record (`MatterRecord::to_bytes`), replayed on start.
    pub matter: Option<Vec<u8>>,
    /// A labeled example for retraining the classifier (a contact an agent
    /// classified): one JSON line in the corpus format.
    pub label: Option<String>,
}

/// One stored record of [`Reader::timeline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A `hotline.v1.Decision`.
    Decision(Vec<u8>),
    /// A dedup `MatterRecord`.
    Matter(Vec<u8>),
    /// A `hotline.v1.OrderEvent`.
    Order(Vec<u8>),
}

/// An event row to insert; the key (stream, key, type, at) makes a replayed
/// event count once.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub stream: &'static str,
    pub key: String,
    pub event_type: i32,
    pub at_ms: i64,
    pub body: Vec<u8>,
    /// Alerts: the Kafka key to publish the body under once it is stored
    /// (through the outbox, when Kafka is configured); `None` for call and
    /// order events, which are not published.
    pub publish: Option<String>,
}

/// One row of the outbox: a stored decision or alert not yet on Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Store order: rows are published in it.
    pub id: i64,
    /// `decision` or `alert`.
    pub topic: String,
    pub key: String,
    /// When it was written (unix ms).
    pub at_ms: i64,
    pub body: Vec<u8>,
}

/// Outcome of inserting one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Newly stored.
    New,
    /// The contact_id was decided before; this is the stored decision.
    Existing(Vec<u8>),
}

/// Schema version in `PRAGMA user_version`. 0: the first layout (a unique
/// index on contact_id, a second one on case_id, dedup records in their own
/// table); 2: one integer index, the dedup record in the decision's row;
/// 3: the outbox table; 4: labels as a rowid table.
const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = r#"
-- A rowid table: rows (about 700 bytes) are appended in rowid order and
-- only the small integer index takes random inserts. contact_key is
-- xxh3_64(contact_id), which is also the last part of the case id the
-- contact opens: one unique index answers both lookups (by contact, by
-- case) and makes an insert its own duplicate check. A contact whose key
-- another contact id holds (a 64-bit collision) is stored with a NULL key
-- and listed in `collided`.
CREATE TABLE IF NOT EXISTS decisions (
    id           INTEGER PRIMARY KEY,
    contact_key  INTEGER,
    contact_id   TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    route        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,  -- unix ms, UTC
    decided_at   INTEGER NOT NULL,  -- unix ms, UTC
    body         BLOB NOT NULL,     -- hotline.v1.Decision
    matter       BLOB               -- the dedup MatterRecord it was matched with
);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_key ON decisions(contact_key);
-- While a collided contact is kept, the row holding its key is kept too
-- (see purge_before): a retry of it must find the key taken.
CREATE TABLE IF NOT EXISTS collided (
    contact_id  TEXT PRIMARY KEY,
    key         INTEGER NOT NULL,
    id          INTEGER NOT NULL     -- decisions.id
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    stream      TEXT NOT NULL,      -- call | order | alert
    key         TEXT NOT NULL,      -- call id | case id
    type        INTEGER NOT NULL,
    at          INTEGER NOT NULL,   -- unix ms, UTC
    body        BLOB NOT NULL,
    PRIMARY KEY (stream, key, type, at)
) WITHOUT ROWID;
-- Contacts an agent classified (kind or category hint) and every work
-- order (labeled once re-dispatched), in the classifier corpus format, for
-- `hotlined export-labels`; kept as long as decisions. A rowid table:
-- rows are appended (one per new decision, whose insert already refused a
-- second one for the contact id), and the index on `at` takes nearly
-- ordered inserts; a primary key on contact_id made every insert touch a
-- random page (about 12 % of gRPC intake, BENCHMARKS.md).
CREATE TABLE IF NOT EXISTS labels (
    id          INTEGER PRIMARY KEY,
    contact_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,    -- the contact's received_at, unix ms
    body        TEXT NOT NULL        -- {"text","channel","district","kind","category",…}
);
CREATE INDEX IF NOT EXISTS labels_at ON labels(at);
-- The outbox (ARCHITECTURE.md, "Delivery guarantees"): each new decision
-- and alert, written in the transaction that stores it when Kafka is
-- configured; the publisher sends rows in id order and deletes them once
-- Kafka has them. Never purged by retention: an unpublished row waits.
CREATE TABLE IF NOT EXISTS outbox (
    -- AUTOINCREMENT: an id is never reused once its row is deleted, so
    -- the publisher's cursor (the last id Kafka has) stays valid.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT NOT NULL,       -- decision | alert
    key         TEXT NOT NULL,       -- the Kafka key: case id (or queue)
    at          INTEGER NOT NULL,    -- when written, unix ms
    body        BLOB NOT NULL
);
-- Version 0 kept dedup records here; read on start until purged, no
-- longer written (the decision row carries its record).
-- With [kafka.cluster]: per partition of the changelog, the offset of the
-- next record this store has not applied (README.md, "More than one node").
CREATE TABLE IF NOT EXISTS changelog_checkpoint (
    partition   INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS matters (
    id          INTEGER PRIMARY KEY, -- insertion order: the order dedup saw them
    at          INTEGER NOT NULL,    -- the contact's received_at, unix ms
    body        BLOB NOT NULL        -- dedup MatterRecord
);
"#;

/// The store key of a contact id, as SQLite stores it (the bits of the u64).
pub fn key_of(contact_id: &str) -> i64 {
    hotline_router::decide::contact_key(contact_id) as i64
}

/// Sets every row's key in chunks of rows, so memory stays constant whatever
/// the table's size; a key another row holds leaves the row NULL and listed.
/// Returns the rows seen.
fn fill_keys(tx: &Connection, key_of: fn(&str) -> i64) -> Result<u64, rusqlite::Error> {
    let mut next =
        tx.prepare("SELECT id, contact_id FROM decisions WHERE id > ?1 ORDER BY id LIMIT 10000")?;
    let mut up = tx.prepare("UPDATE OR IGNORE decisions SET contact_key = ?1 WHERE id = ?2")?;
    let mut list = tx.prepare("INSERT INTO collided(contact_id, key, id) VALUES (?1, ?2, ?3)")?;
    let (mut after, mut rows) = (i64::MIN, 0u64);
    loop {
        let chunk: Vec<(i64, String)> = next
            .query_map(params![after], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let Some((last, _)) = chunk.last() else {
            return Ok(rows);
        };
        after = *last;
        for (id, contact_id) in &chunk {
            let key = key_of(contact_id);
            if up.execute(params![key, id])? == 0 {
                list.execute(params![contact_id, key, id])?;
            }
        }
        rows += chunk.len() as u64;
    }
}

/// Brings a version-0 database to the current layout in one transaction:
/// the integer key column filled from each contact_id by `key_of` (the
/// store's [`key_of`]; tests make keys collide), a colliding one listed in
/// `collided`, the case_id index dropped. Version 0's unique contact_id
/// index stays: SQLite cannot drop a constraint without copying the table;
/// it only costs write speed.
fn migrate(conn: &mut Connection, key_of: fn(&str) -> i64) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let has_key: bool = tx.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('decisions') WHERE name = 'contact_key'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    let exists: bool = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'decisions'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    let from_v0 = exists && !has_key;
    if from_v0 {
        tx.execute_batch(
            "ALTER TABLE decisions ADD COLUMN contact_key INTEGER;
             ALTER TABLE decisions ADD COLUMN matter BLOB;
             DROP INDEX IF EXISTS decisions_case;",
        )?;
    }
    // Labels keyed by contact_id (versions 2 and 3) become a rowid table.
    let keyed_labels: bool = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'labels' AND sql LIKE '%WITHOUT ROWID%'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if keyed_labels {
        tx.execute_batch("ALTER TABLE labels RENAME TO labels_v3;")?;
    }
    // The unique index before the keys (NULL keys do not conflict).
    tx.execute_batch(SCHEMA)?;
    if keyed_labels {
        tx.execute_batch(
            "INSERT INTO labels(contact_id, at, body) SELECT contact_id, at, body FROM labels_v3 ORDER BY at;
             DROP TABLE labels_v3;",
        )?;
    }
    if from_v0 {
        let rows = fill_keys(&tx, key_of)?;
        tracing::info!(
            rows,
            "store: migrated the decisions table to schema version 2"
        );
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Creates `dir` (and its parents) readable by the owner only; an existing
/// directory that others can read is logged, not changed.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                mode = format!("{:o}", mode & 0o777),
                "the data directory is open to other users; chmod 700 it"
            );
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Makes `file` readable and writable by its owner only.
fn private_file(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
}

/// Page size of a new database file by default, in KiB (`store.page_size_kib`).
pub const DEFAULT_PAGE_KIB: u32 = 32;
/// The page sizes a new file may have, in KiB.
pub const PAGE_KIBS: [u32; 5] = [4, 8, 16, 32, 64];
/// WAL size at which a commit copies the WAL back into the database.
const WAL_CHECKPOINT_BYTES: i64 = 128 * 1024 * 1024;

/// The writing connection.
pub struct Store {
    conn: Connection,
    /// With Kafka: new decisions and alerts are also written to the outbox,
    /// and this is woken after each commit that wrote some.
    outbox: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// The id of the last outbox row committed (0: none yet).
    outbox_mark: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// With `[kafka.cluster]`: every new row is also queued for this
    /// tenant's changelog (`sinks::changelog`).
    changelog: Option<std::sync::Arc<str>>,
    /// The database file and its (device, inode) when opened.
    file: (PathBuf, Option<(u64, u64)>),
}

/// A file's (device, inode): `Ok(None)` when it is not there, `Err` when
/// it cannot be told (permissions, an I/O error).
fn identity(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the database file is still the one opened with this identity:
/// a data directory removed (or the file replaced) under the daemon leaves
/// SQLite writing to an unlinked file, and every acknowledgement would be
/// lost at the next start. One `stat` per transaction. A `stat` that fails for another reason than the file's absence tells
/// nothing: the commit itself then finds out whether the store works.
fn still_there((path, opened): &(PathBuf, Option<(u64, u64)>)) -> Result<(), StoreError> {
    match (opened, identity(path)) {
        (Some(_), Ok(now)) if now != *opened => Err(StoreError::Replaced(path.clone())),
        _ => Ok(()),
    }
}

/// How hard SQLite syncs: `full` survives power loss, `normal` only process crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sync {
    #[default]
    Full,
    Normal,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, a new file
    /// with the default page size.
    pub fn open(data_dir: &Path, sync: Sync) -> Result<Store, StoreError> {
        Store::open_paged(data_dir, sync, DEFAULT_PAGE_KIB)
    }

    /// Opens (creating if needed) the database in `data_dir`; a new file
    /// gets pages of `page_kib` KiB.
    pub fn open_paged(data_dir: &Path, sync: Sync, page_kib: u32) -> Result<Store, StoreError> {
        private_dir(data_dir).map_err(|e| StoreError::DataDir(data_dir.to_path_buf(), e))?;
        let path = data_dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        // Callers' contacts: the owner's alone whatever the umask (SQLite
        // gives the WAL and shared-memory files the database's mode).
        private_file(&path).map_err(|e| StoreError::DataDir(path.clone(), e))?;
        // Before the first table exists (an existing file keeps its size):
        // a group commit writes each page it touched as one WAL frame, two
        // write calls; 32 KiB pages hold ~40 decisions and make a batch
        // of thousands a fraction of the frames and bytes 8 KiB pages did.
        // Small commits write more bytes per touched page; see BENCHMARKS.md.
        conn.pragma_update(None, "page_size", i64::from(page_kib) * 1024)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint every ~128 MiB of WAL instead of 4 MiB: hot index pages
        // are copied back far less often under a steady stream.
        let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            WAL_CHECKPOINT_BYTES / page.max(512),
        )?;
        conn.pragma_update(
            None,
            "synchronous",
            if sync == Sync::Full { "FULL" } else { "NORMAL" },
        )?;
        // Another writer (an operator's sqlite3, a backup) holding the
        // database's write lock delays a commit instead of failing it.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        migrate(&mut conn, key_of)?;
        let id = identity(&path).ok().flatten();
        if id.is_none() {
            tracing::warn!(
                path = %path.display(),
                "cannot stat the store file: a store removed under the daemon will not be noticed"
            );
        }
        Ok(Store {
            conn,
            outbox: None,
            outbox_mark: Default::default(),
            changelog: None,
            file: (path, id),
        })
    }

    /// Writes and removes a row in one transaction (pages to the WAL and an
    /// fsync, like a commit of contacts): whether the store can commit.
    pub fn probe(&mut self) -> Result<(), StoreError> {
        still_there(&self.file)?;
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS probe (at INTEGER NOT NULL);
             INSERT INTO probe(at) VALUES (0);
             DELETE FROM probe;",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// From now on every new decision and alert is also written to the
    /// outbox in its transaction, and `wake` is notified after the commit.
    pub fn publish_through_outbox(&mut self, wake: std::sync::Arc<tokio::sync::Notify>) {
        self.outbox = Some(wake);
    }

    /// From now on every new decision and event row is also written to the
    /// outbox for `tenant`'s changelog (before its output, if it has one).
    pub fn write_changelog(&mut self, tenant: std::sync::Arc<str>) {
        self.changelog = Some(tenant);
    }

    /// The id of the last outbox row committed, as it moves: a record whose
    /// commit has been answered has its outbox row at or below it.
    pub fn outbox_mark(&self) -> std::sync::Arc<std::sync::atomic::AtomicI64> {
        self.outbox_mark.clone()
    }

    /// Runs `f` in one transaction (the group commit).
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.transaction()?;
        let t = Tx {
            tx: &tx,
            insert: Default::default(),
            outbox: self.outbox.is_some(),
            changelog: self.changelog.clone(),
            queued: Default::default(),
            records: Default::default(),
            now_ms: chrono::Utc::now().timestamp_millis(),
        };
        let out = f(&t)?;
        for (key, rec) in t.records.take() {
            t.to_outbox("changelog", &key, &rec)?;
        }
        let last = t.queued.get();
        drop(t);
        // Checked last, just before the commit: nothing is acknowledged
        // into a file no restart reads (rolled back as `tx` drops).
        still_there(&self.file)?;
        tx.commit()?;
        if let Some(id) = last {
            self.outbox_mark
                .fetch_max(id, std::sync::atomic::Ordering::SeqCst);
            if let Some(wake) = &self.outbox {
                wake.notify_one();
            }
        }
        Ok(out)
    }

    /// Deletes decisions and events received before `cutoff_ms`; returns rows deleted.
    pub fn purge_before(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        // Collided contacts first, with their list entries; a row whose key
        // a kept collided contact shares stays until that contact goes.
        let c = self.conn.execute(
            "DELETE FROM decisions WHERE received_at < ?1 AND contact_key IS NULL",
            params![cutoff_ms],
        )?;
        self.conn.execute(
            "DELETE FROM collided WHERE id NOT IN (SELECT id FROM decisions)",
            [],
        )?;
        let n = c + self.conn.execute(
            "DELETE FROM decisions WHERE received_at < ?1 AND contact_key NOT IN (SELECT key FROM collided)",
            params![cutoff_ms],
        )?;
        let m = self
            .conn
            .execute("DELETE FROM events WHERE at < ?1", params![cutoff_ms])?
            + self
                .conn
                .execute("DELETE FROM labels WHERE at < ?1", params![cutoff_ms])?;
        // Version 0's dedup records (dedup looks back 30 days at most) go
        // after 60; those in decision rows go with their decisions.
        let matters_cutoff = cutoff_ms.max(chrono::Utc::now().timestamp_millis() - 60 * 86_400_000);
        let k = self
            .conn
            .execute("DELETE FROM matters WHERE at < ?1", params![matters_cutoff])?;
        Ok(n + m + k)
    }
}

/// Statements inside one transaction.
pub struct Tx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    /// The decision insert, taken from the statement cache once per
    /// transaction rather than once per row.
    insert: std::cell::RefCell<Option<rusqlite::CachedStatement<'a>>>,
    /// Write new decisions and alerts to the outbox too.
    outbox: bool,
    /// Write every new row to the outbox for this tenant's changelog too.
    changelog: Option<std::sync::Arc<str>>,
    /// The id of the last outbox row this transaction wrote, if any.
    queued: std::cell::Cell<Option<i64>>,
    /// The changelog records of this transaction's rows (key, record),
    /// written to the outbox after every decision and alert it wrote there:
    /// the outbox sends a record only once the outputs before it are on
    /// Kafka (`sinks::outbox`), and a new owner takes a record on the
    /// changelog as done.
    records: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    now_ms: i64,
}

const INSERT_DECISION: &str = "INSERT INTO decisions(contact_key, contact_id, case_id, route, received_at, decided_at, body, matter) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(contact_key) DO NOTHING";

impl Tx<'_> {
    /// Inserts a decision unless its contact_id exists; then returns the stored one.
    pub fn insert_decision(&self, r: &DecisionRow) -> Result<Inserted, rusqlite::Error> {
        let ins = self.insert_keyed(r, key_of(&r.contact_id))?;
        if let (Inserted::New, Some(label)) = (&ins, &r.label) {
            self.tx
                .prepare_cached("INSERT INTO labels(contact_id, at, body) VALUES (?1, ?2, ?3)")?
                .execute(params![r.contact_id, r.received_at_ms, label])?;
        }
        if ins == Inserted::New {
            if let Some(t) = &self.changelog {
                let rec = crate::sinks::changelog::decision_record(t, r);
                self.records.borrow_mut().push((r.contact_id.clone(), rec));
            }
            self.to_outbox("decision", &r.case_id, &r.body)?;
        }
        Ok(ins)
    }

    /// The transaction, for the changelog's statements (`sinks::changelog`).
    pub(crate) fn sql(&self) -> &rusqlite::Transaction<'_> {
        self.tx
    }

    /// Queues a stored record for Kafka (when the store publishes through
    /// the outbox).
    pub(crate) fn to_outbox(
        &self,
        topic: &str,
        key: &str,
        body: &[u8],
    ) -> Result<(), rusqlite::Error> {
        if !self.outbox {
            return Ok(());
        }
        self.tx
            .prepare_cached("INSERT INTO outbox(topic, key, at, body) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![topic, key, self.now_ms, body])?;
        self.queued.set(Some(self.tx.last_insert_rowid()));
        Ok(())
    }

    /// Forgets the outbox rows up to `id`: Kafka has them.
    pub fn outbox_done(&self, id: i64) -> Result<usize, rusqlite::Error> {
        self.tx
            .prepare_cached("DELETE FROM outbox WHERE id <= ?1")?
            .execute(params![id])
    }

    /// [`insert_decision`](Self::insert_decision) under a given key (tests
    /// force two contact ids onto one key with it).
    pub(crate) fn insert_keyed(
        &self,
        r: &DecisionRow,
        key: i64,
    ) -> Result<Inserted, rusqlite::Error> {
        let mut slot = self.insert.borrow_mut();
        let ins = match &mut *slot {
            Some(s) => s,
            None => slot.insert(self.tx.prepare_cached(INSERT_DECISION)?),
        };
        let mut insert = |key: Option<i64>| {
            ins.execute(params![
                key,
                r.contact_id,
                r.case_id,
                r.route,
                r.received_at_ms,
                r.decided_at_ms,
                r.body,
                r.matter
            ])
        };
        if insert(Some(key))? == 1 {
            return Ok(Inserted::New);
        }
        // The key is taken: by this contact before, or by another contact id.
        if let Some(body) = lookup(self.tx, key, &r.contact_id)? {
            return Ok(Inserted::Existing(body));
        }
        insert(None)?;
        self.tx.execute(
            "INSERT INTO collided(contact_id, key, id) VALUES (?1, ?2, ?3)",
            params![r.contact_id, key, self.tx.last_insert_rowid()],
        )?;
        Ok(Inserted::New)
    }

    /// Inserts an event; `false` when the same event was stored before.
    pub fn insert_event(&self, e: &EventRow) -> Result<bool, rusqlite::Error> {
        let mut ins = self.tx.prepare_cached("INSERT INTO events(stream, key, type, at, body) VALUES (?1,?2,?3,?4,?5) ON CONFLICT DO NOTHING")?;
        let new = ins.execute(params![e.stream, e.key, e.event_type, e.at_ms, e.body])? == 1;
        if let (true, Some(t)) = (new, &self.changelog) {
            let rec = crate::sinks::changelog::event_record(t, e);
            self.records.borrow_mut().push((e.key.clone(), rec));
        }
        if let (true, Some(key)) = (new, &e.publish) {
            self.to_outbox("alert", key, &e.body)?;
        }
        Ok(new)
    }
}

/// The stored decision of a contact id whose key is `key`: at the key, or
/// listed as collided.
fn lookup(
    conn: &Connection,
    key: i64,
    contact_id: &str,
) -> Result<Option<Vec<u8>>, rusqlite::Error> {
    let mut at_key =
        conn.prepare_cached("SELECT contact_id, body FROM decisions WHERE contact_key = ?1")?;
    let mut rows = at_key.query(params![key])?;
    if let Some(row) = rows.next()? {
        if row.get_ref(0)?.as_str()? == contact_id {
            return Ok(Some(row.get(1)?));
        }
        let mut listed = conn.prepare_cached(
            "SELECT d.body FROM collided c JOIN decisions d ON d.id = c.id WHERE c.contact_id = ?1",
        )?;
        return listed
            .query_row(params![contact_id], |r| r.get(0))
            .optional();
    }
    Ok(None)
}

/// A read-only view for commands and lookups.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// The connection, for the changelog's queries (`sinks::changelog`).
    pub(crate) fn sql(&self) -> &Connection {
        &self.conn
    }

    /// Opens the database in `data_dir` read-only.
    pub fn open(data_dir: &Path) -> Result<Reader, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::Missing(path));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Reader { conn })
    }

    /// Stored decision bodies received at or after `since_ms`, optionally of
    /// one route, in received order.
    pub fn decisions(
        &self,
        since_ms: i64,
        route: Option<&str>,
        each: impl FnMut(Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.bodies(
            "SELECT body FROM decisions WHERE received_at >= ?1 AND (?2 IS NULL OR route = ?2) ORDER BY received_at, contact_id",
            params![since_ms, route],
            each,
        )
    }

    /// Stored event bodies of one stream (call, order, alert) at or after
    /// `since_ms`, in time order.
    pub fn events(
        &self,
        stream: &str,
        since_ms: i64,
        each: impl FnMut(Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.bodies(
            "SELECT body FROM events WHERE stream = ?1 AND at >= ?2 ORDER BY at",
            params![stream, since_ms],
            each,
        )
    }

    /// Decisions, dedup records and order events since `since_ms`, merged in
    /// time order (decisions by received_at, order events by their time; dedup
    /// records keep the order dedup first saw them), for rebuilding the
    /// in-memory state on start: a case reopened after it was completed must
    /// see the completion before the reopening, not after.
    pub fn timeline(
        &self,
        since_ms: i64,
        mut each: impl FnMut(Item) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut sd = self.conn.prepare(
            "SELECT received_at, body FROM decisions WHERE received_at >= ?1 ORDER BY received_at, id",
        )?;
        // Dedup records in the order dedup saw them: version 0's table first,
        // then those kept with their decisions, in commit order.
        let mut sm = self.conn.prepare(
            "SELECT at, body FROM (SELECT at, body, 0 AS src, id FROM matters WHERE at >= ?1 UNION ALL SELECT received_at, matter, 1, id FROM decisions WHERE matter IS NOT NULL AND received_at >= ?1) ORDER BY src, id",
        )?;
        let mut so = self.conn.prepare(
            "SELECT at, body FROM events WHERE stream = 'order' AND at >= ?1 ORDER BY at",
        )?;
        let mut rows = [
            sd.query(params![since_ms])?,
            sm.query(params![since_ms])?,
            so.query(params![since_ms])?,
        ];
        fn next(r: &mut rusqlite::Rows<'_>) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
            Ok(match r.next()? {
                Some(row) => Some((row.get(0)?, row.get(1)?)),
                None => None,
            })
        }
        let mut heads = [
            next(&mut rows[0])?,
            next(&mut rows[1])?,
            next(&mut rows[2])?,
        ];
        let mut n = 0;
        loop {
            // The earliest head; on a tie decisions, then records, then events.
            let pick = (0..3)
                .filter_map(|i| heads[i].as_ref().map(|(t, _)| (*t, i)))
                .min();
            let Some((_, i)) = pick else { break };
            let Some((_, body)) = heads[i].take() else {
                break;
            };
            each(match i {
                0 => Item::Decision(body),
                1 => Item::Matter(body),
                _ => Item::Order(body),
            })?;
            n += 1;
            heads[i] = next(&mut rows[i])?;
        }
        Ok(n)
    }

    /// Runs a `SELECT body …` and hands each body to `each`; returns how many.
    fn bodies(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        mut each: impl FnMut(Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(args)?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            each(row.get(0)?)?;
            n += 1;
        }
        Ok(n)
    }

    /// The stored labeled examples (JSON lines) received at or after
    /// `since_ms`, in time order.
    pub fn labels(
        &self,
        since_ms: i64,
        mut each: impl FnMut(String) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM labels WHERE at >= ?1 ORDER BY at, contact_id")?;
        let mut rows = stmt.query(params![since_ms])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            each(row.get(0)?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Up to `limit` outbox rows after `after_id`, in id order.
    pub fn outbox(&self, after_id: i64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, topic, key, at, body FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    topic: r.get(1)?,
                    key: r.get(2)?,
                    at_ms: r.get(3)?,
                    body: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Outbox rows after `after_id` and when the oldest was written (unix ms).
    pub fn outbox_backlog(&self, after_id: i64) -> Result<(u64, Option<i64>), StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*), MIN(at) FROM outbox WHERE id > ?1")?
            .query_row(params![after_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })?)
    }

    /// Whether an event with this key (stream, key, type, time) is stored.
    pub fn event_stored(
        &self,
        stream: &str,
        key: &str,
        event_type: i32,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut found = false;
        self.bodies(
            "SELECT body FROM events WHERE stream = ?1 AND key = ?2 AND type = ?3 AND at = ?4",
            params![stream, key, event_type, at_ms],
            |_| {
                found = true;
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// The stored order events of one case and type, in time order.
    pub fn case_events(&self, case_id: &str, event_type: i32) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        self.bodies(
            "SELECT body FROM events WHERE stream = 'order' AND key = ?1 AND type = ?2 ORDER BY at",
            params![case_id, event_type],
            |b| {
                out.push(b);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The stored decision of a contact id or a case id.
    pub fn decision(
        &self,
        contact_id: Option<&str>,
        case_id: Option<&str>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let found = match (contact_id, case_id) {
            (Some(c), _) => lookup(&self.conn, key_of(c), c)?,
            // The case's first decision is the one of the contact whose key
            // the case id carries.
            (None, Some(c)) => match hotline_router::decide::case_key(c) {
                Some(k) => self
                    .conn
                    .query_row(
                        "SELECT body FROM decisions WHERE contact_key = ?1 AND case_id = ?2
                         UNION ALL
                         SELECT body FROM (SELECT d.body FROM collided c JOIN decisions d ON d.id = c.id
                             WHERE c.key = ?1 AND d.case_id = ?2 ORDER BY d.received_at)
                         LIMIT 1",
                        params![k as i64, c],
                        |r| r.get(0),
                    )
                    .optional()?,
                None => None,
            },
            (None, None) => None,
        };
        Ok(found)
    }

    /// Number of stored decisions.
    pub fn count_decisions(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM decisions", [], |r| r.get::<_, i64>(0))?
            as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hotline-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A version-3 store (labels keyed by contact id) opens as version 4
    /// with its labels kept, and takes new ones.
    #[test]
    fn labels_of_a_version_3_store_are_kept() -> Result<(), Box<dyn std::error::Error>> {
        let d = dir("labels-v3");
        std::fs::create_dir_all(&d)?;
        {
            let c = Connection::open(d.join(DB_FILE))?;
            c.execute_batch(
                "CREATE TABLE labels (contact_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
                 INSERT INTO labels VALUES ('old-1', 5, '{\"text\":\"old\"}');
                 PRAGMA user_version = 3;",
            )?;
        }
        let mut store = Store::open(&d, Sync::Normal)?;
        let mut r = row("new-1", "case-1", 9);
        r.label = Some("{\"text\":\"new\"}".into());
        store.transaction(|tx| tx.insert_decision(&r).map(|_| ()))?;
        let reader = Reader::open(&d)?;
        let mut got = Vec::new();
        reader.labels(0, |l| {
            got.push(l);
            Ok(())
        })?;
        assert_eq!(got, ["{\"text\":\"old\"}", "{\"text\":\"new\"}"]);
        let v: i64 = reader
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(v, SCHEMA_VERSION);
        Ok(())
    }

    fn row(contact_id: &str, case_id: &str, at: i64) -> DecisionRow {
        DecisionRow {
            contact_id: contact_id.into(),
            case_id: case_id.into(),
            route: "WORK_ORDER",
            received_at_ms: at,
            decided_at_ms: at,
            body: format!("body of {contact_id}").into_bytes(),
            matter: Some(format!("matter of {contact_id}").into_bytes()),
            label: None,
        }
    }

    fn case_of(contact_id: &str) -> String {
        format!(
            "GY20261126-{:016x}",
            hotline_router::decide::contact_key(contact_id)
        )
    }

    #[test]
    fn two_contact_ids_on_one_key_are_both_kept_and_found_apart(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let d = dir("collide");
        let mut store = Store::open(&d, Sync::Normal)?;
        let key = key_of("a-1");
        // b-2 collides with a-1: same key, so the same 16 hex digits in its
        // case id (another day).
        let a = row("a-1", &case_of("a-1"), 1);
        let b = row("b-2", &case_of("a-1").replace("20261126", "20261127"), 2);
        let out = store.transaction(|tx| {
            Ok([
                tx.insert_keyed(&a, key)?,
                tx.insert_keyed(&b, key)?,
                tx.insert_keyed(&a, key)?,
                tx.insert_keyed(&b, key)?,
            ])
        })?;
        assert_eq!(out[0], Inserted::New);
        assert_eq!(out[1], Inserted::New, "a colliding key is not a duplicate");
        assert_eq!(out[2], Inserted::Existing(a.body.clone()));
        assert_eq!(out[3], Inserted::Existing(b.body.clone()));
        let r = Reader::open(&d)?;
        assert_eq!(r.count_decisions()?, 2);
        assert_eq!(r.decision(Some("a-1"), None)?, Some(a.body.clone()));
        assert_eq!(r.decision(None, Some(&a.case_id))?, Some(a.body.clone()));
        assert_eq!(r.decision(None, Some(&b.case_id))?, Some(b.body.clone()));
        assert_eq!(r.decision(Some("zz"), None)?, None);
        assert_eq!(r.decision(None, Some("GY20261126-nothex"))?, None);
        drop(r);

        // Retention: a (older) holds the key b's retries must find taken, so
        // it stays while b is kept; both go once b is past retention.
        assert_eq!(store.purge_before(2)?, 0);
        let again = store.transaction(|tx| tx.insert_keyed(&b, key))?;
        assert_eq!(again, Inserted::Existing(b.body.clone()));
        assert_eq!(store.purge_before(3)?, 2);
        let r = Reader::open(&d)?;
        assert_eq!(r.count_decisions()?, 0);
        let listed: i64 = r
            .conn
            .query_row("SELECT COUNT(*) FROM collided", [], |x| x.get(0))?;
        assert_eq!(listed, 0, "the list entry goes with its decision");
        Ok(())
    }

    /// The first layout, as version 0 created it.
    const SCHEMA_V0: &str = r#"
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY, contact_id TEXT NOT NULL UNIQUE, case_id TEXT NOT NULL,
    route TEXT NOT NULL, received_at INTEGER NOT NULL, decided_at INTEGER NOT NULL,
    body BLOB NOT NULL);
CREATE INDEX decisions_case ON decisions(case_id);
CREATE TABLE events (stream TEXT NOT NULL, key TEXT NOT NULL, type INTEGER NOT NULL,
    at INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (stream, key, type, at)) WITHOUT ROWID;
CREATE TABLE matters (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body BLOB NOT NULL);
"#;

    #[test]
    fn a_version_0_database_whose_keys_collide_is_migrated_with_the_list(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let d = dir("migrate-collide");
        std::fs::create_dir_all(&d)?;
        let mut c = Connection::open(d.join(DB_FILE))?;
        c.execute_batch(SCHEMA_V0)?;
        for (i, id) in ["x-1", "x-2", "y-3"].iter().enumerate() {
            c.execute(
                "INSERT INTO decisions(contact_id, case_id, route, received_at, decided_at, body) VALUES (?1,?2,'WORK_ORDER',?3,?3,?4)",
                params![id, format!("GY20261126-{:016x}", 42), i as i64, format!("body of {id}").into_bytes()],
            )
            ?;
        }
        // Every id starting with x gets key 42: x-2 collides with x-1.
        fn forced(id: &str) -> i64 {
            if id.starts_with('x') {
                42
            } else {
                key_of(id)
            }
        }
        migrate(&mut c, forced)?;
        let listed: Vec<(String, i64)> = c
            .prepare("SELECT contact_id, key FROM collided")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        assert_eq!(listed, [("x-2".to_string(), 42)]);
        let key: Option<i64> = c.query_row(
            "SELECT contact_key FROM decisions WHERE contact_id = 'x-1'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(key, Some(42));
        assert_eq!(lookup(&c, 42, "x-2")?, Some(b"body of x-2".to_vec()));
        assert_eq!(lookup(&c, 42, "x-1")?, Some(b"body of x-1".to_vec()));
        assert_eq!(
            lookup(&c, key_of("y-3"), "y-3")?,
            Some(b"body of y-3".to_vec())
        );
        Ok(())
    }

    #[test]
    fn a_version_0_database_is_migrated_and_keeps_every_answer(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let d = dir("migrate");
        std::fs::create_dir_all(&d)?;
        {
            let c = Connection::open(d.join(DB_FILE))?;
            c.execute_batch(SCHEMA_V0)?;
            for (i, id) in ["old-1", "old-2"].iter().enumerate() {
                c.execute(
                    "INSERT INTO decisions(contact_id, case_id, route, received_at, decided_at, body) VALUES (?1,?2,'WORK_ORDER',?3,?3,?4)",
                    params![id, case_of(id), 10 + i as i64, format!("body of {id}").into_bytes()],
                )
                ?;
                c.execute(
                    "INSERT INTO matters(at, body) VALUES (?1, ?2)",
                    params![10 + i as i64, format!("matter of {id}").into_bytes()],
                )?;
            }
        }
        let mut store = Store::open(&d, Sync::Normal)?;
        let (old, new) = (
            row("old-1", &case_of("old-1"), 10),
            row("new-3", &case_of("new-3"), 5),
        );
        let out =
            store.transaction(|tx| Ok([tx.insert_decision(&old)?, tx.insert_decision(&new)?]))?;
        assert_eq!(
            out[0],
            Inserted::Existing(old.body.clone()),
            "a retry of an old contact"
        );
        assert_eq!(out[1], Inserted::New);
        drop(store);
        // Opening again does not migrate twice.
        drop(Store::open(&d, Sync::Normal)?);
        let r = Reader::open(&d)?;
        assert_eq!(r.count_decisions()?, 3);
        assert_eq!(
            r.decision(None, Some(&case_of("old-2")))?,
            Some(b"body of old-2".to_vec())
        );
        assert_eq!(r.decision(Some("new-3"), None)?, Some(new.body));
        // Dedup records: version 0's first (in their order), then the new ones.
        let mut matters = Vec::new();
        r.timeline(0, |item| {
            if let Item::Matter(m) = item {
                matters.push(String::from_utf8(m).unwrap_or_default());
            }
            Ok(())
        })?;
        assert_eq!(
            matters,
            ["matter of old-1", "matter of old-2", "matter of new-3"],
            "in the order dedup saw them, not by time"
        );
        Ok(())
    }

    /// A new file gets 32 KiB pages; a file made with 8 KiB pages keeps
    /// them. Either way the WAL is checkpointed at 128 MiB, in its pages.
    #[test]
    fn page_size_of_new_files_and_checkpoint_in_bytes() -> Result<(), Box<dyn std::error::Error>> {
        let pragmas = |c: &Connection| -> Result<(i64, i64), rusqlite::Error> {
            Ok((
                c.pragma_query_value(None, "page_size", |r| r.get(0))?,
                c.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?,
            ))
        };
        let new = dir("pages-new");
        let store = Store::open(&new, Sync::Normal)?;
        assert_eq!(pragmas(&store.conn)?, (32_768, 4_096));
        let old = dir("pages-old");
        std::fs::create_dir_all(&old)?;
        {
            let c = Connection::open(old.join(DB_FILE))?;
            c.pragma_update(None, "page_size", 8192)?;
            c.execute_batch(SCHEMA_V0)?;
        }
        let store = Store::open(&old, Sync::Normal)?;
        assert_eq!(pragmas(&store.conn)?, (8_192, 16_384));
        // `store.page_size_kib`: a new file gets it, an existing one keeps its own.
        let small = dir("pages-small");
        drop(Store::open_paged(&small, Sync::Normal, 8)?);
        let store = Store::open_paged(&small, Sync::Normal, 64)?;
        assert_eq!(pragmas(&store.conn)?, (8_192, 16_384));
        let store = Store::open_paged(&dir("pages-large"), Sync::Normal, 64)?;
        assert_eq!(pragmas(&store.conn)?, (65_536, 2_048));
        Ok(())
    }
}
