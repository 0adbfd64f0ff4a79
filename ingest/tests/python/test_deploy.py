"""deploy/: every file an operator uses is checked with the tool that reads
it — hotlined check-config, systemd-analyze verify, promtool, a YAML parser
for the manifests — and the dashboard's metric names against what a running
daemon really exposes on /metrics."""

import json
import pathlib
import re
import shutil
import subprocess
import time
import urllib.request

import grpc
import yaml

from conftest import ROOT, start_daemon, wait_ticks

DEPLOY = ROOT / "deploy"


# The tokens a prepared host has in its environment (token_env), each at
# least the 32 bytes hotlined requires.
HOST_ENV = {
    "HOTLINE_GATEWAY_TOKEN": "gw-" + "a" * 40,
    "HOTLINE_TICKET_TOKEN": "ts-" + "b" * 40,
    "HOTLINE_DASHBOARD_TOKEN": "db-" + "c" * 40,
}


def check_config(hotlined, path):
    import os
    env = {**os.environ, **HOST_ENV}
    return subprocess.run([hotlined, "check-config", str(path)], capture_output=True, text=True, timeout=60, env=env)


def localized(text, tmp_path):
    """The config with /etc/hotline and /var/lib/hotline moved under tmp_path,
    TLS files and the calendar directory made, as on a prepared host."""
    etc = tmp_path / "etc"
    (etc / "tls").mkdir(parents=True, exist_ok=True)
    (etc / "calendar").mkdir(exist_ok=True)
    (etc / "tls" / "tls.crt").write_text("cert")
    (etc / "tls" / "tls.key").write_text("key")
    (etc / "tls" / "tls.key").chmod(0o600)  # hotlined refuses a key others can read
    return text.replace("/etc/hotline", str(etc)).replace("/var/lib/hotline", str(tmp_path / "data"))


def test_shipped_configs_pass_check_config(hotlined, tmp_path):
    emb = check_config(hotlined, DEPLOY / "config" / "hotlined.embedded.toml")
    assert emb.returncode == 0, emb.stdout + emb.stderr
    prod = tmp_path / "production.toml"
    prod.write_text(localized((DEPLOY / "config" / "hotlined.production.toml").read_text(), tmp_path))
    r = check_config(hotlined, prod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0.0.0.0:50051" in r.stdout
    # A broken copy is refused, with the key named.
    bad = tmp_path / "bad.toml"
    bad.write_text(prod.read_text().replace("escalate_at = 3", "escalate_at = 0"))
    r = check_config(hotlined, bad)
    assert r.returncode == 1 and "dedup.escalate_at" in (r.stdout + r.stderr)


def k8s_docs():
    docs = []
    for f in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_kubernetes_manifests(hotlined, tmp_path):
    docs = k8s_docs()
    for want in [("StatefulSet", "hotlined"), ("Service", "hotlined"), ("Service", "hotlined-nodes"), ("ConfigMap", "hotlined-config"),
                 ("ConfigMap", "hotlined-calendar"), ("Secret", "hotlined-secrets"),
                 ("PodDisruptionBudget", "hotlined"), ("HorizontalPodAutoscaler", "hotlined")]:
        assert want in docs, want
    # The ConfigMap's config passes check-config.
    cfg = tmp_path / "cm.toml"
    cfg.write_text(localized(docs[("ConfigMap", "hotlined-config")]["data"]["hotlined.toml"], tmp_path))
    r = check_config(hotlined, cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    drain = int(re.search(r"drain_timeout_secs = (\d+)", cfg.read_text()).group(1))
    sts = docs[("StatefulSet", "hotlined")]["spec"]
    # Stable identity and a volume per pod (the tenants' stores, a cache of the changelog).
    assert sts["serviceName"] == "hotlined-nodes"
    assert docs[("Service", "hotlined-nodes")]["spec"]["clusterIP"] == "None"
    assert [v["metadata"]["name"] for v in sts["volumeClaimTemplates"]] == ["data"]
    assert "[kafka.cluster]" in cfg.read_text()
    pod = sts["template"]["spec"]
    c = pod["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/live"
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    wait = int(pre[pre.index("--wait-secs") + 1])
    assert pod["terminationGracePeriodSeconds"] > drain + wait, "the drain fits in the grace period"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # Every env var the config reads comes from the Secret.
    secret = docs[("Secret", "hotlined-secrets")]["stringData"]
    for var in re.findall(r'(?:token_env|caller_secret_env|"sasl.password") = "([A-Z_]+)"', cfg.read_text()):
        assert var in secret, var
    svc = docs[("Service", "hotlined")]
    assert {p["port"] for p in svc["spec"]["ports"]} == {50051, 9464}
    hpa = docs[("HorizontalPodAutoscaler", "hotlined")]["spec"]
    assert hpa["maxReplicas"] >= hpa["minReplicas"]
    assert hpa["scaleTargetRef"]["kind"] == "StatefulSet"
    partitions = int(re.search(r"partitions = (\d+)", cfg.read_text()).group(1))
    assert hpa["maxReplicas"] <= partitions, "a pod beyond the by-tenant partitions decides nothing"
    assert "partition" in (DEPLOY / "k8s" / "hpa.yaml").read_text()


def test_the_preStop_and_health_check_command_probes_ready(hotlined, tmp_path):
    proc, addr, admin = start_daemon(hotlined, tmp_path)
    try:
        ok = subprocess.run([hotlined, "ready", "--admin-addr", f"127.0.0.1:{admin}"], timeout=30)
        assert ok.returncode == 0
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    down = subprocess.run([hotlined, "ready", "--admin-addr", f"127.0.0.1:{admin}"], capture_output=True, timeout=30)
    assert down.returncode == 1


def test_systemd_unit_hardening_and_stop_timeout():
    """What the unit must say, checked whether or not this machine runs systemd."""
    text = (DEPLOY / "systemd" / "hotlined.service").read_text()
    for must in ["ProtectSystem=strict", "StateDirectory=hotline", "User=hotline", "Restart=on-failure",
                 "NoNewPrivileges=yes"]:
        assert must in text
    drain = 20
    stop = int(re.search(r"TimeoutStopSec=(\d+)", text).group(1))
    assert stop > drain


def test_systemd_unit_verifies(hotlined, tmp_path):
    sa = shutil.which("systemd-analyze")
    assert sa, "systemd-analyze missing: install systemd (Debian: apt-get install systemd) to verify the unit"
    unit = tmp_path / "hotlined.service"
    unit.write_text((DEPLOY / "systemd" / "hotlined.service").read_text().replace("/usr/local/bin/hotlined", hotlined))
    r = subprocess.run([sa, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def promtool():
    p = shutil.which("promtool")
    assert p, "promtool missing: the README's test command installs Debian's prometheus package"
    return p


def test_prometheus_rules_and_config_check_and_their_unit_tests_pass():
    d = DEPLOY / "prometheus"
    for args in (["check", "rules", "hotline.rules.yml"], ["test", "rules", "hotline.rules.test.yml"],
                 ["check", "config", "prometheus.yml"]):
        r = subprocess.run([promtool(), *args], cwd=d, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    k8s = yaml.safe_load((d / "scrape-kubernetes.yml").read_text())
    assert k8s["scrape_configs"][0]["kubernetes_sd_configs"][0]["role"] == "pod"
    rules = yaml.safe_load((d / "hotline.rules.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"HotlineAnswerRateLow", "HotlineServiceLevelLow", "HotlineOverdueWorkOrdersRising",
            "HotlineDeadLetters", "HotlineConsumerLag", "HotlineNotReady"} <= names


def exposed_metric_names(text):
    from prometheus_client.parser import text_string_to_metric_families
    names = set()
    for fam in text_string_to_metric_families(text):
        names.add(fam.name)
        for s in fam.samples:
            names.add(s.name)
    return names


def test_every_metric_on_the_dashboard_and_in_the_rules_is_exposed(stubs, hotlined, tmp_path):
    pb, rpc = stubs
    proc, addr, admin = start_daemon(hotlined, tmp_path)
    try:
        now_ms = int(time.time() * 1000)
        with grpc.insecure_channel(addr) as ch:
            intake = rpc.IntakeStub(ch)
            c = pb.Contact(contact_id="dash-1", channel=pb.PHONE, content="我要投诉锦绣华庭物业不作为，电梯坏了")
            c.received_at.GetCurrentTime()
            c.caller.phone = "13900001111"
            c.location.district_code = "510802"
            intake.Submit(c)
            evs = []
            for typ, at, chn, cid in ((pb.OFFERED, now_ms - 9000, pb.PHONE, "call-1"),
                                      (pb.ANSWERED, now_ms - 7000, pb.PHONE, "call-1"),
                                      (pb.OFFERED, now_ms - 60000, pb.SMS, "sms-1"),
                                      (pb.MESSAGE_ACCEPTED, now_ms - 30000, pb.SMS, "sms-1")):
                e = pb.CallEvent(call_id=cid, type=typ, queue="12345", channel=chn)
                e.at.FromMilliseconds(at)
                evs.append(e)
            intake.ReportCallEvents(iter(evs))
        wait_ticks(admin, "service_targets")
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    exposed = exposed_metric_names(text)
    dash = json.loads((DEPLOY / "grafana" / "hotline.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 12
    used = {m for e in exprs for m in re.findall(r"\bhotline_[a-z0-9_]+", e)}
    rules = (DEPLOY / "prometheus" / "hotline.rules.yml").read_text()
    used |= set(re.findall(r"\bhotline_[a-z0-9_]+", rules))
    missing = sorted(used - exposed)
    assert not missing, f"not on /metrics: {missing}"
    # The panels the issue asks for are there.
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    for words in ["answer rate", "service level", "heatmap", "acceptance", "overdue", "repeats", "pipeline latency",
                  "rejected", "dead letters"]:
        assert words in titles, words
    assert any(p["type"] == "heatmap" for p in dash["panels"])
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
