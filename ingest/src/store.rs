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
}

/// Outcome of inserting one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Newly stored.
    New,
    /// The contact_id was decided before; this is the stored decision.
    Existing(Vec<u8>),
}

const SCHEMA: &str = r#"
-- A rowid table: rows (about 600 bytes) are appended in rowid order and
-- only the small contact_id index takes random inserts.
CREATE TABLE IF NOT EXISTS decisions (
    id           INTEGER PRIMARY KEY,
    contact_id   TEXT NOT NULL UNIQUE,
    case_id      TEXT NOT NULL,
    route        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,  -- unix ms, UTC
    decided_at   INTEGER NOT NULL,  -- unix ms, UTC
    body         BLOB NOT NULL      -- hotline.v1.Decision
);
CREATE INDEX IF NOT EXISTS decisions_case ON decisions(case_id);
CREATE TABLE IF NOT EXISTS events (
    stream      TEXT NOT NULL,      -- call | order | alert
    key         TEXT NOT NULL,      -- call id | case id
    type        INTEGER NOT NULL,
    at          INTEGER NOT NULL,   -- unix ms, UTC
    body        BLOB NOT NULL,
    PRIMARY KEY (stream, key, type, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS matters (
    id          INTEGER PRIMARY KEY, -- insertion order: the order dedup saw them
    at          INTEGER NOT NULL,    -- the contact's received_at, unix ms
    body        BLOB NOT NULL        -- dedup MatterRecord
);
"#;

/// The writing connection.
pub struct Store {
    conn: Connection,
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
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path, sync: Sync) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::DataDir(data_dir.to_path_buf(), e))?;
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        // Before the first table exists: 8 KiB pages hold a dozen decisions each.
        conn.pragma_update(None, "page_size", 8192)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint every ~128 MiB of WAL instead of 4 MiB: hot index pages
        // are copied back far less often under a steady stream.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(
            None,
            "synchronous",
            if sync == Sync::Full { "FULL" } else { "NORMAL" },
        )?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    /// Runs `f` in one transaction (the group commit).
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.transaction()?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Deletes decisions and events received before `cutoff_ms`; returns rows deleted.
    pub fn purge_before(&mut self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM decisions WHERE received_at < ?1",
            params![cutoff_ms],
        )?;
        let m = self
            .conn
            .execute("DELETE FROM events WHERE at < ?1", params![cutoff_ms])?;
        // Dedup looks back 30 days at most: its records go after 60.
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
}

impl Tx<'_> {
    /// Inserts a decision unless its contact_id exists; then returns the stored one.
    pub fn insert_decision(&self, r: &DecisionRow) -> Result<Inserted, rusqlite::Error> {
        let mut ins = self.tx.prepare_cached(
            "INSERT INTO decisions(contact_id, case_id, route, received_at, decided_at, body) VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT(contact_id) DO NOTHING",
        )?;
        if ins.execute(params![
            r.contact_id,
            r.case_id,
            r.route,
            r.received_at_ms,
            r.decided_at_ms,
            r.body
        ])? == 1
        {
            if let Some(m) = &r.matter {
                let mut ins = self
                    .tx
                    .prepare_cached("INSERT INTO matters(at, body) VALUES (?1, ?2)")?;
                ins.execute(params![r.received_at_ms, m])?;
            }
            return Ok(Inserted::New);
        }
        let mut sel = self
            .tx
            .prepare_cached("SELECT body FROM decisions WHERE contact_id = ?1")?;
        let body: Vec<u8> = sel.query_row(params![r.contact_id], |row| row.get(0))?;
        Ok(Inserted::Existing(body))
    }

    /// Inserts an event; `false` when the same event was stored before.
    pub fn insert_event(&self, e: &EventRow) -> Result<bool, rusqlite::Error> {
        let mut ins = self.tx.prepare_cached("INSERT INTO events(stream, key, type, at, body) VALUES (?1,?2,?3,?4,?5) ON CONFLICT DO NOTHING")?;
        Ok(ins.execute(params![e.stream, e.key, e.event_type, e.at_ms, e.body])? == 1)
    }
}

/// A read-only view for commands and lookups.
pub struct Reader {
    conn: Connection,
}

impl Reader {
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
        let mut sm = self
            .conn
            .prepare("SELECT at, body FROM matters WHERE at >= ?1 ORDER BY id")?;
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
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query(args)?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            each(row.get(0)?)?;
            n += 1;
        }
        Ok(n)
    }

    /// The stored decision of a contact id or a case id.
    pub fn decision(
        &self,
        contact_id: Option<&str>,
        case_id: Option<&str>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let found = match (contact_id, case_id) {
            (Some(c), _) => self
                .conn
                .query_row(
                    "SELECT body FROM decisions WHERE contact_id = ?1",
                    params![c],
                    |r| r.get(0),
                )
                .optional()?,
            (None, Some(c)) => self
                .conn
                .query_row(
                    "SELECT body FROM decisions WHERE case_id = ?1 ORDER BY received_at LIMIT 1",
                    params![c],
                    |r| r.get(0),
                )
                .optional()?,
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
