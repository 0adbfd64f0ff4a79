"""hotline-bench against a real daemon: the demo a newcomer runs after the
README's first command, and the gRPC load modes with a rate and a duration."""

import json
import subprocess

import pytest

from conftest import start_daemon


@pytest.fixture(scope="module")
def daemon(hotlined, tmp_path_factory):
    proc, addr, admin = start_daemon(hotlined, tmp_path_factory.mktemp("bench"))
    yield addr, admin
    proc.terminate()
    assert proc.wait(timeout=60) == 0


def test_demo_reports_routes_dedup_sla_and_alerts(hotline_bench, daemon):
    addr, admin = daemon
    p = subprocess.run([hotline_bench, "demo", "--target", addr, "--admin", f"127.0.0.1:{admin}",
                        "--minutes", "10", "--seconds", "12", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["contacts"] > 400 and r["refused"] == 0
    assert r["routes"].get("WORK_ORDER", 0) > 0 and r["routes"].get("DIRECT_ANSWER", 0) > 0
    assert sum(r["routes"].values()) == r["contacts"]
    assert r["call_events"] > r["contacts"], "each contact has its call or message events"
    assert r["order_events"] > 0
    main = next(q for q in r["queues"] if q["queue"] == "12345")
    assert main["offered"] > 100 and 0 < main["answer_rate"] <= 1
    assert main["offered"] >= main["answered"] + main["abandoned"] - 1
    assert r["clustered_contacts"] > 0 and r["clusters"] > 0, "an outage burst is reported by many callers"
    assert r["alerts"].get("ACCEPT_LATE", 0) > 0, "some messages are accepted after 3 minutes"
    # The main pool is short of agents for two minutes: its answer rate falls under 95 %.
    assert r["alerts"].get("ANSWER_RATE_LOW", 0) >= 1
    assert main["answer_rate"] < 0.95
    # The human summary names what a newcomer should see.
    # URLs are taken as well as host:port, and --open names the wallboard to watch.
    p = subprocess.run([hotline_bench, "demo", "--target", f"http://{addr}/", "--admin", f"http://127.0.0.1:{admin}",
                        "--minutes", "1", "--seconds", "2", "--seed", "7", "--open"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    for words in ["routes:", "transfers:", "dedup:", "service targets per queue", "alerts raised:"]:
        assert words in p.stdout
    assert f"http://127.0.0.1:{admin}/wallboard" in p.stderr


def test_demo_explains_an_address_it_cannot_use(hotline_bench):
    for target, admin, words in [("ftp://x:1", "127.0.0.1:9", "is not host:port"),
                                 ("https://127.0.0.1:9", "127.0.0.1:9", "--ca-cert"),
                                 ("127.0.0.1:9", "https://127.0.0.1:9", "plain HTTP")]:
        p = subprocess.run([hotline_bench, "demo", "--target", target, "--admin", admin],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and words in p.stderr, (target, admin, p.stderr)


def test_demo_without_a_daemon_says_how_to_start_one(hotline_bench):
    p = subprocess.run([hotline_bench, "demo", "--target", "127.0.0.1:9", "--admin", "127.0.0.1:9"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "README" in p.stderr


def test_grpc_unary_at_a_rate_for_a_duration_with_the_baseline(hotline_bench, daemon):
    addr, _ = daemon
    p = subprocess.run([hotline_bench, "grpc-unary", "--target", addr, "--rate", "150", "--duration", "2",
                        "--concurrency", "2", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    d, b = r["subject"], r["baseline"]
    assert d["errors"] == 0 and b["errors"] == 0
    # Paced: about 150/s for 2 s, on both sides.
    assert 200 <= d["count"] <= 320 and 200 <= b["count"] <= 320
    assert d["latency_us"]["p50"] > 0 and r["ratio"] > 0


def test_kafka_mode_against_the_real_broker(hotline_bench, hotlined):
    import os
    brokers = os.environ.get("HOTLINE_KAFKA_BROKERS")
    if not brokers:
        pytest.fail("HOTLINE_KAFKA_BROKERS is not set: run the README's test command, which starts tansu")
    p = subprocess.run([hotline_bench, "kafka", "--brokers", brokers, "--count", "3000", "--partitions", "2",
                        "--hotlined", hotlined, "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    d, b = r["subject"], r["baseline"]
    assert d["count"] == b["count"] == 3000
    assert d["errors"] == 0 and b["errors"] == 0, "every contact's decision is on the topic"
    assert d["latency_us"]["p50"] > 0 and b["latency_us"]["p50"] > 0
    assert r["ratio"] > 0


def test_ab_script_reports_both_builds_with_cpu_and_bytes(hotline_bench, hotlined):
    """bench/scripts/ab.sh: alternating runs of two builds (here the same one twice)."""
    import os
    import re
    script = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench", "scripts", "ab.sh")
    p = subprocess.run(["bash", script, hotlined, hotlined, "1", "300"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "HOTLINE_BENCH": hotline_bench})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert [l.split()[0] for l in lines] == ["old", "new"], p.stdout
    for l in lines:
        m = re.search(r"(\d+)/s\s+ratio ([\d.]+)\s+daemon CPU ([\d.]+) us/contact\s+written (\d+) B/contact", l)
        assert m, l
        assert int(m.group(1)) > 0 and float(m.group(2)) > 0 and float(m.group(3)) > 0
