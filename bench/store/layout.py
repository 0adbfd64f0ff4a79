#!/usr/bin/env python3
"""What a decisions-table layout costs per contact: bytes written (WAL and
checkpoints, from /proc/self/io) and CPU, for 300 000 inserts in group commits
of BATCH rows on a fresh SQLite file in WAL mode, synchronous=FULL, 8 KiB pages
-- the daemon's settings. Rows carry a 541-byte body and a 125-byte dedup
record (the averages of a hotline-bench run); contact ids are the load
generator's, case ids end in a 64-bit hash of the contact id.

    python3 bench/store/layout.py [BATCH]

Layouts: `v0` the first (UNIQUE text contact_id, an index on case_id, dedup
records in their own table); `v2` the current (one UNIQUE integer key,
INSERT .. ON CONFLICT); `none` no secondary index at all (the floor).
Python's per-statement overhead (about 1 us) is in the CPU figure.
"""
import hashlib
import os
import random
import struct
import sys
import tempfile
import time

import sqlite3

N = 300_000


def written():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes"):
                return int(line.split()[1])
    return 0


V0 = """
CREATE TABLE decisions (id INTEGER PRIMARY KEY, contact_id TEXT NOT NULL UNIQUE,
  case_id TEXT NOT NULL, route TEXT NOT NULL, received_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX decisions_case ON decisions(case_id);
CREATE TABLE matters (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body BLOB NOT NULL);
"""
V2 = """
CREATE TABLE decisions (id INTEGER PRIMARY KEY, contact_key INTEGER, contact_id TEXT NOT NULL,
  case_id TEXT NOT NULL, route TEXT NOT NULL, received_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL, body BLOB NOT NULL, matter BLOB);
CREATE UNIQUE INDEX decisions_key ON decisions(contact_key);
"""
NONE = V2.replace("CREATE UNIQUE INDEX decisions_key ON decisions(contact_key);", "")


def insert_v0(c, cid, case, key, body, matter, n):
    c.execute(
        "INSERT INTO decisions(contact_id, case_id, route, received_at, decided_at, body)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT(contact_id) DO NOTHING",
        (cid, case, "WORK_ORDER", n, n, body),
    )
    c.execute("INSERT INTO matters(at, body) VALUES (?,?)", (n, matter))


def insert_v2(c, cid, case, key, body, matter, n):
    c.execute(
        "INSERT INTO decisions(contact_key, contact_id, case_id, route, received_at, decided_at,"
        " body, matter) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(contact_key) DO NOTHING",
        (key, cid, case, "WORK_ORDER", n, n, body, matter),
    )


def insert_plain(c, cid, case, key, body, matter, n):
    c.execute(
        "INSERT INTO decisions(contact_key, contact_id, case_id, route, received_at, decided_at,"
        " body, matter) VALUES (?,?,?,?,?,?,?,?)",
        (key, cid, case, "WORK_ORDER", n, n, body, matter),
    )


def run(name, schema, insert, batch):
    with tempfile.TemporaryDirectory() as d:
        c = sqlite3.connect(os.path.join(d, "db"), isolation_level=None)
        c.execute("PRAGMA page_size=8192")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA wal_autocheckpoint=16384")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA cache_size=-65536")
        c.executescript(schema)
        rnd = random.Random(1)
        body = rnd.randbytes(541)
        matter = rnd.randbytes(125)
        w0, t0 = written(), time.process_time()
        for b in range(N // batch):
            c.execute("BEGIN")
            for i in range(batch):
                n = b * batch + i
                cid = f"bench-hotlined-1795726808891021-{n % 4}-{n // 4}"
                h = hashlib.blake2b(cid.encode(), digest_size=8).digest()
                insert(c, cid, "GY20261127-" + h.hex(), struct.unpack("<q", h)[0], body, matter, n)
            c.execute("COMMIT")
        cpu = time.process_time() - t0
        print(f"{name:6s} batch {batch:5d}: {(written() - w0) / N:7.0f} B written, "
              f"{cpu * 1e6 / N:5.1f} us CPU per contact", flush=True)


if __name__ == "__main__":
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    run("v0", V0, insert_v0, batch)
    run("v2", V2, insert_v2, batch)
    run("none", NONE, insert_plain, batch)
