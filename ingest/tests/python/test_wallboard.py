"""The wall screen in a real browser: headless Chromium (Debian's package,
installed by the test command) driven over the DevTools protocol on a pipe,
against a daemon with a constructed load. The numbers on the page equal
/metrics, a queue under its answer-rate target is shown as such, the page
updates without a reload, and a screenshot is kept (target/wallboard.png)."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, start_daemon, wait_ticks


class Browser:
    """Chromium with --remote-debugging-pipe: JSON messages, each ended by
    a NUL byte, on fds 3 (to the browser) and 4 (from it)."""

    def __init__(self):
        exe = shutil.which("chromium")
        if exe is None:
            pytest.fail("chromium is not installed: run the README's test command (it installs it)")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="hotline-chromium-")

        def fds():
            # Copies first: either pipe end may itself be fd 3 or 4.
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
             "--window-size=1600,1100", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=fds)
        os.close(to_r)
        os.close(from_w)
        self.next_id = 0
        self.buf = b""
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def wait(self, expression, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.eval(expression):
                return
            time.sleep(0.1)
        pytest.fail(f"not true within {timeout} s: {expression}")

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def metrics(admin_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def calls(pb, queue, n, answered, start, prefix):
    """n calls offered to `queue` from `start`, the first `answered` answered within 2 s, the rest abandoned."""
    out = []
    for i in range(n):
        t0 = start + i * 5
        for typ, at in [(pb.OFFERED, t0), (pb.ANSWERED if i < answered else pb.ABANDONED, t0 + 2)]:
            e = pb.CallEvent(call_id=f"{prefix}-{i}", type=typ, queue=queue, channel=pb.PHONE)
            e.at.FromSeconds(at)
            out.append(e)
    return out


def test_the_wallboard_shows_what_metrics_says_and_updates_live(stubs, hotlined, tmp_path):
    pb, rpc = stubs
    proc, addr, admin_port = start_daemon(hotlined, tmp_path)
    browser = None
    try:
        start = int(time.time()) - 600
        with grpc.insecure_channel(addr) as ch:
            intake = rpc.IntakeStub(ch)
            # 12345 answers 30 of 40 (75 %: under the 95 % target); 12366 all 25.
            intake.ReportCallEvents(iter(calls(pb, "12345", 40, 30, start, "wb-a")
                                         + calls(pb, "12366", 25, 25, start, "wb-b")))
            c = pb.Contact(contact_id="wb-1", channel=pb.PHONE, content="我要投诉小区物业，电梯坏了一个月都没人修")
            c.received_at.GetCurrentTime()
            c.caller.phone = "13900001111"
            intake.Submit(c)
        deadline = time.time() + 15
        while metrics(admin_port).get(("hotline_alerts_total", (("kind", "ANSWER_RATE_LOW"),)), 0) < 1:
            assert time.time() < deadline, "no ANSWER_RATE_LOW"
            time.sleep(0.2)
        wait_ticks(admin_port, "service_targets")
        wait_ticks(admin_port, "wallboard")

        browser = Browser()
        browser.call("Page.navigate", url=f"http://127.0.0.1:{admin_port}/wallboard")
        browser.wait("window.__updates >= 2")
        loaded = browser.eval("window.__loaded")
        page = browser.eval("Object.fromEntries([...document.querySelectorAll('[data-k]')]"
                            ".map(e => [e.dataset.k, e.textContent]))")
        m = metrics(admin_port)

        def g(name, **labels):
            return m[(name, tuple(sorted(labels.items())))]

        home = "510800"  # the default tenant's gauges: the board shows its figures

        for q in ["12345", "12366"]:
            for w in ["15m", "1h", "day"]:
                for figure, metric in [("answer_rate", "hotline_answer_rate_ratio"),
                                       ("service_level", "hotline_service_level_ratio")]:
                    want = f"{g(metric, queue=q, window=w, tenant=home) * 100:.1f}%"
                    assert page[f"q.{q}.{w}.{figure}"] == want, (q, w, figure, page)
            for outcome in ["offered", "answered", "abandoned"]:
                assert int(page[f"q.{q}.day.{outcome}"]) == g("hotline_window_calls", queue=q, window="day", outcome=outcome, tenant=home)
        assert page["q.12345.1h.answer_rate"] == "75.0%"
        assert int(page["orders.open"]) == g("hotline_open_cases", tenant=home) == 1
        contacts = sum(v for (name, _), v in m.items() if name == "hotline_contacts_total")
        assert int(page["pipeline.contacts"]) == contacts == 1
        assert int(page["pipeline.dlq"]) == 0
        assert int(page["pipeline.outbox_unpublished"]) == g("hotline_outbox_unpublished", tenant=home)
        # The queue under target is marked, the other is not.
        assert browser.eval("document.querySelector('tr[data-queue=\"12345\"]').className") == "below"
        assert browser.eval("document.querySelector('tr[data-queue=\"12366\"]').className") == ""
        assert browser.eval("getComputedStyle(document.getElementById('notready')).display") == "none"

        # Live: more calls to 12366 appear without a reload (in the 1 h
        # window: the day's may have begun at midnight, Beijing time, since).
        updates = browser.eval("window.__updates")
        offered_1h = g("hotline_window_calls", queue="12366", window="1h", outcome="offered", tenant=home)
        assert offered_1h == 25
        with grpc.insecure_channel(addr) as ch:
            rpc.IntakeStub(ch).ReportCallEvents(iter(calls(pb, "12366", 10, 5, int(time.time()) - 60, "wb-c")))
        # 30 of 35 answered in the hour: 85.7 %, now under target too.
        browser.wait("document.querySelector('[data-k=\"q.12366.1h.answer_rate\"]').textContent === '85.7%'")
        browser.wait("document.querySelector('tr[data-queue=\"12366\"]').className === 'below'")
        assert browser.eval("window.__loaded") == loaded, "the page was not reloaded"
        assert browser.eval("window.__updates") > updates

        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        out = pathlib.Path(os.environ.get("HOTLINE_SCREENSHOT", ROOT / "target" / "wallboard.png"))
        out.parent.mkdir(parents=True, exist_ok=True)
        import base64
        out.write_bytes(base64.b64decode(shot))
        assert out.stat().st_size > 10_000
    finally:
        if browser:
            browser.close()
        proc.terminate()
        assert proc.wait(timeout=60) == 0


def test_with_tokens_the_wallboard_needs_a_dashboard_token(hotlined, tmp_path):
    dash, gate = "d" * 40, "g" * 40
    import hashlib
    cfg = ("[auth]\ntokens = [\n"
           f"  {{ role = \"dashboard\", sha256 = \"{hashlib.sha256(dash.encode()).hexdigest()}\" }},\n"
           f"  {{ role = \"gateway\", sha256 = \"{hashlib.sha256(gate.encode()).hexdigest()}\" }},\n]\n")
    proc, _, admin_port = start_daemon(hotlined, tmp_path, cfg)
    try:
        base = f"http://127.0.0.1:{admin_port}/wallboard/events"

        def status(url, headers=None):
            req = urllib.request.Request(url, headers=headers or {})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    first = r.readline()
                    return r.status, first
            except urllib.error.HTTPError as e:
                return e.code, b""

        assert status(base)[0] == 401
        assert status(base + "?token=" + gate)[0] == 401, "a gateway token is not a dashboard token"
        code, first = status(base + "?token=" + dash)
        assert code == 200 and first.startswith((b"retry", b"data")), first
        assert status(base, {"Authorization": "Bearer " + dash})[0] == 200
        # The page itself carries no figures: it is served to anyone who can reach the port.
        assert urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/wallboard").status == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
