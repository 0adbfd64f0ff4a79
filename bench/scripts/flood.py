#!/usr/bin/env python3
"""Floods a running hotlined while a paced, well-behaved client submits, and
reports that client's p99 before and during the flood and the daemon's
memory (BENCHMARKS.md, "Floods").

The flood, all at once:
  idle        TCP connections that send an HTTP/2 preface and nothing more
              (more than server.max_connections: the rest are closed at once)
  half-open   SubmitStream calls whose request stream never sends
  no-reader   SubmitStream calls that send contacts and never read an ack
  oversized   Submit calls with a 6 MiB text (over server.max_message_bytes)
  nested      Submit calls whose bytes are 20 000 nested protobuf groups

The paced client is `hotline-bench grpc --mode unary --rate R`; its report's
subject p99 is the figure compared. Run by bench/scripts/flood.sh.
"""
import argparse
import importlib
import json
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def stubs():
    import grpc_tools
    from grpc_tools import protoc
    out = tempfile.mkdtemp(prefix="hotline-flood-")
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(["protoc", f"-I{ROOT / 'proto' / 'proto'}", f"-I{well_known}",
                      f"--python_out={out}", f"--grpc_python_out={out}",
                      str(ROOT / "proto" / "proto" / "hotline" / "v1" / "hotline.proto")])
    if rc != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    return (importlib.import_module("hotline.v1.hotline_pb2"),
            importlib.import_module("hotline.v1.hotline_pb2_grpc"))


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def paced(bench, target, rate, seconds):
    out = subprocess.run([bench, "grpc", "--mode", "unary", "--target", target, "--rate", str(rate),
                          "--duration", str(seconds), "--concurrency", "8", "--json"],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    s = r["subject"]
    return {"p50_us": s["latency_us"]["p50"], "p99_us": s["latency_us"]["p99"],
            "max_us": s["latency_us"]["max"], "per_second": round(s["per_second"]),
            "errors": s["errors"]}


class Flood:
    def __init__(self, target, pb, rpc, idle, half_open, no_reader):
        self.target, self.pb, self.rpc = target, pb, rpc
        self.stop = threading.Event()
        self.counts = {"idle_open": 0, "idle_refused": 0, "half_open": 0, "no_reader_sent": 0,
                       "oversized": 0, "nested": 0}
        self.sockets = []
        self.threads = []
        self.idle, self.half_open, self.no_reader = idle, half_open, no_reader
        self.calls = []

    def contact(self, i, text="小区路灯坏了好几天了"):
        return self.pb.Contact(contact_id=f"flood-{i}", channel=self.pb.PHONE, content=text,
                               caller=self.pb.Caller(phone=f"139{i % 100000000:08d}"),
                               location=self.pb.Location(district_code="510802"))

    def run_idle(self):
        host, port = self.target.rsplit(":", 1)
        for _ in range(self.idle):
            if self.stop.is_set():
                return
            try:
                s = socket.create_connection((host, int(port)), timeout=2)
                s.sendall(PREFACE)
                self.sockets.append(s)
                self.counts["idle_open"] += 1
            except OSError:
                self.counts["idle_refused"] += 1

    def run_half_open(self):
        import grpc
        ch = grpc.insecure_channel(self.target)
        stub = self.rpc.IntakeStub(ch)
        blocked = threading.Event()

        def never():
            blocked.wait()
            return
            yield  # a generator that never yields

        for _ in range(self.half_open):
            self.calls.append(stub.SubmitStream(never()))
            self.counts["half_open"] += 1
        self.stop.wait()
        blocked.set()
        for c in self.calls:
            c.cancel()
        ch.close()

    def run_no_reader(self, k):
        import grpc
        ch = grpc.insecure_channel(self.target)
        stub = self.rpc.IntakeStub(ch)

        def requests():
            i = 0
            while not self.stop.is_set():
                i += 1
                self.counts["no_reader_sent"] += 1
                yield self.contact(k * 10_000_000 + i)

        call = stub.SubmitStream(requests())  # the acks are never read
        self.stop.wait()
        call.cancel()
        ch.close()

    def run_oversized(self):
        import grpc
        ch = grpc.insecure_channel(self.target, options=[("grpc.max_send_message_length", 64 << 20)])
        stub = self.rpc.IntakeStub(ch)
        big = self.contact(0, "大" * (2 << 20))  # 6 MiB of UTF-8
        while not self.stop.is_set():
            try:
                stub.Submit(big, timeout=5)
            except grpc.RpcError:
                pass
            self.counts["oversized"] += 1
        ch.close()

    def run_nested(self):
        import grpc
        ch = grpc.insecure_channel(self.target)
        call = ch.unary_unary("/hotline.v1.Intake/Submit", request_serializer=None,
                              response_deserializer=None)
        deep = b"\x0b" * 20_000  # field 1, start group, 20 000 deep
        while not self.stop.is_set():
            try:
                call(deep, timeout=5)
            except grpc.RpcError:
                pass
            self.counts["nested"] += 1
            time.sleep(0.01)
        ch.close()

    def start(self, no_readers):
        jobs = [self.run_idle, self.run_half_open, self.run_oversized, self.run_nested]
        jobs += [lambda k=k: self.run_no_reader(k) for k in range(no_readers)]
        for j in jobs:
            t = threading.Thread(target=j, daemon=True)
            t.start()
            self.threads.append(t)

    def end(self):
        self.stop.set()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--half-open", type=int, default=200)
    ap.add_argument("--no-readers", type=int, default=8)
    a = ap.parse_args()
    pb, rpc = stubs()

    report = {"rss_start_kib": rss_kib(a.pid)}
    report["unloaded"] = paced(a.bench, a.target, a.rate, a.seconds)
    report["rss_unloaded_kib"] = rss_kib(a.pid)

    flood = Flood(a.target, pb, rpc, a.idle, a.half_open, a.no_readers)
    flood.start(a.no_readers)
    time.sleep(3)  # let the flood reach its full size before measuring
    peak = [0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_kib(a.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    report["flooded"] = paced(a.bench, a.target, a.rate, a.seconds)
    sampling.set()
    sampler.join()
    report["rss_peak_flooded_kib"] = peak[0]
    report["flood"] = dict(flood.counts)
    flood.end()
    time.sleep(2)
    report["rss_after_kib"] = rss_kib(a.pid)
    report["p99_ratio"] = round(report["flooded"]["p99_us"] / max(1, report["unloaded"]["p99_us"]), 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
