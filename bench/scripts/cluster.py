#!/usr/bin/env python3
"""More than one node, measured (BENCHMARKS.md, "More than one node"): on a
tansu broker of its own, with the four tenants of deploy/config/tenants,

  throughput  contacts produced with random keys to the input topic, decided
              through the by-tenant topic, by one node and then by three
              (each run on fresh topics): contacts/s from the first record
              produced to the last decision on the decisions topic;
  restore     after the one-node run, that node is killed and a node with an
              empty store joins: the time it took to restore the four tenants
              (hotline_tenant_restore_seconds) over the changelog records it
              read, per million records;
  failover    from the kill to the first decision of a contact produced
              right after it (the newcomer must join, be assigned and restore).

  unary       with --bench BIN: after restore and failover (on the newcomer,
              which then owns every tenant), gRPC Submit on one node (32
              callers): the maximum for 5 s, then paced at half of it for
              10 s, twice (each load also runs hotline-bench's no-op
              baselines); a cluster node answers once the decision's
              changelog records are on Kafka (ARCHITECTURE.md, "Across
              nodes"), so this is the broker round trip in the answer. With
              --unary-only, on the one-node run's node, and nothing after.
              Each paced run also gives the mean time and count of the
              outbox's steps (read, fence, outputs, changelog) and of the
              group commits while it ran.

Usage: cluster.py --hotlined BIN --tansu BIN [--contacts N] [--bench BIN]. Prints JSON.
"""
import argparse
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from flood import stubs  # noqa: E402  (the protobuf stubs, built with grpc_tools)

ROOT = pathlib.Path(__file__).resolve().parents[2]
TENANTS = [("510800", "510802"), ("510700", "510703"), ("511300", "511302"), ("511900", "511902")]
TEXTS = ["小区门口的路灯坏了一个多月了", "楼下烧烤店油烟太大", "物业不退装修押金", "小区电梯三天两头坏",
         "菜市场门口占道经营", "请问公积金贷款的额度怎么算", "单位拖欠了三个月工资不发", "学校门口的减速带被压坏了"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def samples(admin):
    """The node's /metrics, by each sample's name and labels as printed; empty when unreachable."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key and not line.startswith("#"):
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def metric(admin, name):
    """A sample of the node's /metrics, by its name and labels as printed; 0 when absent."""
    return samples(admin).get(name, 0.0)


class Broker:
    def __init__(self, tansu, workdir):
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                      "--storage-engine", "memory://tansu/"],
                                     stdout=subprocess.DEVNULL, stderr=open(workdir / "tansu.log", "w"))
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("tansu did not listen")
                time.sleep(0.2)
        self.tansu = tansu

    def create(self, prefix):
        for t, parts in [("contacts", 4), ("call-events", 1), ("order-events", 1), ("decisions", 4),
                         ("alerts", 1), ("stats", 1), ("dlq", 1)]:
            subprocess.run([self.tansu, "topic", "create", "--broker", f"tcp://127.0.0.1:{self.port}",
                            "--partitions", str(parts), f"{prefix}.{t}"], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        self.proc.kill()


BATCH_ONE = True
CLIENT = []


def config(port, prefix, key):
    c = [f'[privacy]\ncaller_key_file = "{key}"', "[stats]\ninterval_secs = 1"]
    for code in ["510700", "511300", "511900"]:
        c.append(f'[[tenant]]\ndir = "{ROOT}/deploy/config/tenants/{code}"')
    c.append(f'''[kafka]
brokers = "127.0.0.1:{port}"
group_id = "{prefix}"
[kafka.client]
{'"batch.num.messages" = "1"' if BATCH_ONE else ""}
{chr(10).join(f'"{k}" = "{v}"' for k, _, v in (x.partition("=") for x in CLIENT))}
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[kafka.topics]
contacts = "{prefix}.contacts"
call_events = "{prefix}.call-events"
order_events = "{prefix}.order-events"
decisions = "{prefix}.decisions"
alerts = "{prefix}.alerts"
stats = "{prefix}.stats"
dlq = "{prefix}.dlq"
[kafka.cluster]
partitions = 4
replication_factor = 1
by_tenant = "{prefix}.by-tenant"
changelog = "{prefix}.changelog"
[kafka.cluster.tenant_partitions]
"510800" = 0
"510700" = 1
"511300" = 2
"511900" = 3''')
    return "\n".join(c) + "\n"


class Node:
    def __init__(self, hotlined, workdir, name, cfg):
        self.dir = workdir / name
        self.dir.mkdir(mode=0o700)
        (self.dir / "hotlined.toml").write_text(cfg)
        self.grpc, self.admin = free_port(), free_port()
        self.proc = subprocess.Popen([hotlined, "serve", "--config", str(self.dir / "hotlined.toml"),
                                      "--grpc-addr", f"127.0.0.1:{self.grpc}",
                                      "--admin-addr", f"127.0.0.1:{self.admin}",
                                      "--data-dir", str(self.dir / "data")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "w"),
                                     env={**os.environ, "HOTLINE_LOG": "warn"})
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/ready", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit(f"{name} not ready")
            time.sleep(0.2)

    def owned(self):
        return metric(self.admin, 'hotline_kafka_assigned_partitions{consumer="by_tenant"}')

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def contacts(pb, n, tag):
    now = int(time.time())
    out = []
    for i in range(n):
        t, d = TENANTS[i % 4]
        c = pb.Contact(contact_id=f"{tag}-{i}", channel=pb.PHONE, content=random.choice(TEXTS) + f"（{i}号）",
                       tenant=t)
        c.received_at.seconds = now - 600 + i % 300
        c.caller.phone = f"139{i:08d}"
        c.location.district_code = d
        out.append(c)
    return out


def produce(brokers, topic, cs):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "linger.ms": 5,
                  "batch.num.messages": 1})
    for c in cs:
        p.produce(topic, key=os.urandom(8).hex(), value=c.SerializeToString())
        p.poll(0)
    p.flush(60)


def decided(pb, brokers, topic, want, timeout):
    """Reads the decisions topic until `want` distinct contacts; the time of the last one."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{os.urandom(4).hex()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen = set()
    last = None
    deadline = time.time() + timeout
    while len(seen) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        d = pb.Decision()
        d.ParseFromString(m.value())
        if d.contact_id not in seen:
            seen.add(d.contact_id)
            last = time.time()
    c.close()
    return len(seen), last


def wait_owned(nodes, total=4, timeout=90):
    deadline = time.time() + timeout
    while sum(n.owned() for n in nodes) < total:
        if time.time() > deadline:
            sys.exit("partitions never all assigned")
        time.sleep(0.2)


def run(args, pb, broker, workdir, n_nodes, key):
    prefix = f"bench{n_nodes}x{os.getpid()}"
    broker.create(prefix)
    brokers = f"127.0.0.1:{broker.port}"
    cfg = config(broker.port, prefix, key)
    nodes = [Node(args.hotlined, workdir, f"{prefix}-{i}", cfg) for i in range(n_nodes)]
    wait_owned(nodes)
    cs = contacts(pb, args.contacts, prefix)
    t0 = time.time()
    produce(brokers, f"{prefix}.contacts", cs)
    got, last = decided(pb, brokers, f"{prefix}.decisions", len(cs), 900)
    result = {"nodes": n_nodes, "contacts": len(cs), "decided": got,
              "contacts_per_second": round(got / (last - t0)) if last else 0}
    return result, nodes, prefix, brokers, cfg


def unary(bench, node):
    """gRPC Submit on a cluster node: the maximum, then twice at half of it."""
    def load(extra):
        out = subprocess.run([bench, "grpc", "--mode", "unary", "--target", f"127.0.0.1:{node.grpc}",
                              "--concurrency", "32", "--json", *extra],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)["subject"]
        lat = {k: round(r["latency_us"][k] / 1000, 2) for k in ("p50", "p99", "p999")}
        return {"per_second": round(r["per_second"]), "errors": r["errors"], "latency_ms": lat}

    def hist(name, labels=""):
        """A histogram's sum and count samples."""
        return f"{name}_sum{labels}", f"{name}_count{labels}"

    # Each step's histogram, by the name it is reported under.
    steps = {r: hist("hotline_outbox_round_seconds", f'{{round="{r}"}}') for r in ROUNDS}
    steps["commit"] = hist("hotline_commit_duration_seconds")

    def paced(rate):
        before = samples(node.admin)
        r = load(["--duration", "10", "--rate", str(rate)])
        after = samples(node.admin)
        # Mean time of each step while the load ran, and how many there were.
        delta = lambda name: after.get(name, 0.0) - before.get(name, 0.0)
        r["steps_ms"] = {step: {"mean": round(1000 * delta(total) / max(delta(count), 1), 2),
                                "count": int(delta(count))}
                         for step, (total, count) in steps.items()}
        return r

    top = load(["--duration", "5"])
    half = max(top["per_second"] // 2, 1)
    return {"maximum": top, "at_half": [paced(half) for _ in range(2)]}


# The outbox's steps (hotline_outbox_round_seconds).
ROUNDS = ("read", "fence", "outputs", "changelog")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hotlined", required=True)
    ap.add_argument("--tansu", required=True)
    ap.add_argument("--contacts", type=int, default=4000)
    ap.add_argument("--batched", action="store_true",
                    help="let the nodes batch their records (tansu cannot serve a fetch from inside a "
                         "batch: fine here, where every read starts at a batch boundary)")
    ap.add_argument("--bench", help="hotline-bench, to measure gRPC Submit latency on a cluster node")
    ap.add_argument("--unary-only", action="store_true", help="with --bench: stop after the latency")
    ap.add_argument("--client", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka setting for the nodes' [kafka.client] (repeat)")
    args = ap.parse_args()
    if args.unary_only and not args.bench:
        ap.error("--unary-only needs --bench")
    for x in args.client:
        if "=" not in x or not x.partition("=")[0]:
            ap.error(f"--client {x!r}: expected KEY=VALUE")
        if x.partition("=")[0] in ("batch.num.messages", "session.timeout.ms", "heartbeat.interval.ms"):
            ap.error(f"--client {x!r}: the script sets that key itself")
    global BATCH_ONE, CLIENT
    BATCH_ONE = not args.batched
    CLIENT = args.client
    pb, _ = stubs()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hotline-cluster-bench-"))
    key = workdir / "caller.key"
    key.write_bytes(os.urandom(32))
    broker = Broker(args.tansu, workdir)
    report = {}
    try:
        one, nodes, prefix, brokers, cfg = run(args, pb, broker, workdir, 1, key)
        report["one_node"] = one
        if args.unary_only:
            try:
                report["unary"] = unary(args.bench, nodes[0])
            finally:
                nodes[0].stop()
            return
        # Restore and failover: the node dies, a newcomer with an empty store joins.
        killed = time.time()
        nodes[0].kill()
        time.sleep(7)  # its session (6 s) expires; tansu moves partitions on the next join
        newcomer = Node(args.hotlined, workdir, f"{prefix}-new", cfg)
        joined = time.time()
        probe = contacts(pb, 4, prefix + "-after")
        produce(brokers, f"{prefix}.contacts", probe)
        got, first_after = decided(pb, brokers, f"{prefix}.decisions", one["decided"] + 4, 300)
        restores = metric(newcomer.admin, "hotline_tenant_restore_seconds_count")
        restore_secs = metric(newcomer.admin, "hotline_tenant_restore_seconds_sum")
        # Every row of the one-node run is a changelog record (decisions and alerts).
        records = one["decided"]
        report["restore"] = {"tenants": restores, "changelog_records": records,
                             "seconds": round(restore_secs, 2),
                             "seconds_per_million_records": round(restore_secs / max(records, 1) * 1e6, 1)}
        report["failover_seconds"] = round(first_after - killed, 1) if first_after else None
        report["failover_after_join_seconds"] = round(first_after - joined, 1) if first_after else None
        try:
            if args.bench:
                report["unary"] = unary(args.bench, newcomer)
        finally:
            newcomer.stop()
        three, nodes3, *_ = run(args, pb, broker, workdir, 3, key)
        report["three_nodes"] = three
        three["per_node_contacts_per_second"] = round(three["contacts_per_second"] / 3)
        for n in nodes3:
            n.stop()
    finally:
        broker.stop()
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
