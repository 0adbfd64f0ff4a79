"""The offline commands, checked with independent tools."""
import datetime
import hashlib
import json
import subprocess

import chinese_calendar
import pytest


def run(*args, stdin=None):
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=600)


def test_is_workday_agrees_with_state_council_for_2023_to_2026(hotlined):
    """Every day of 2023-2026 against the chinesecalendar package's data."""
    day = datetime.date(2023, 1, 1)
    mismatches = []
    checked = 0
    while day.year <= 2026:
        out = run(hotlined, "calendar", "is-workday", day.isoformat())
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["date"] == day.isoformat()
        assert got["provisional"] is False
        if got["workday"] != chinese_calendar.is_workday(day):
            mismatches.append(day.isoformat())
        checked += 1
        day += datetime.timedelta(days=1)
    assert checked == 1461
    assert mismatches == []


def test_past_the_calendar_is_provisional(hotlined):
    got = json.loads(run(hotlined, "calendar", "is-workday", "2027-01-04").stdout)
    assert got == {"date": "2027-01-04", "workday": True, "provisional": True}


def test_due_shapes(hotlined):
    out = run(hotlined, "calendar", "due", "--received", "2026-11-27T07:00:00Z", "--kind", "complaint",
              "--origin", "provincial", "--special")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {
        "accept_by": "2026-11-27T15:03:00+08:00",
        "dispatch_by": "2026-11-27T15:10:00+08:00",
        "sign_by": "2026-11-27T15:40:00+08:00",
        "return_by": "2026-11-27T16:10:00+08:00",
        "complete_by": "2026-12-02T12:00:00+08:00",
        "notify_by": "2026-11-27T15:03:00+08:00",
        "first_feedback_by": "2026-11-27T16:00:00+08:00",
        "progress_by": "2026-11-30T15:00:00+08:00",
        "provisional": False,
    }
    plain = json.loads(run(hotlined, "calendar", "due", "--received", "2026-12-31T10:00:00+08:00",
                           "--kind", "help").stdout)
    assert "notify_by" not in plain
    assert plain["complete_by"] == "2027-01-01T10:00:00+08:00"
    assert plain["provisional"] is True


def test_bad_calendar_arguments_fail_cleanly(hotlined):
    for args in (["is-workday", "2026-02-30"], ["due", "--received", "yesterday", "--kind", "help"],
                 ["due", "--received", "2026-11-27T07:00:00Z", "--kind", "gossip"]):
        out = run(hotlined, "calendar", *args)
        assert out.returncode == 2, out
        assert b"error" in out.stderr
        assert b"panicked" not in out.stderr


def test_replay_100k_is_byte_identical_twice(hotlined, hotline_bench, tmp_path):
    contacts = tmp_path / "contacts.jsonl"
    gen = run(hotline_bench, "gen", "--count", "100000", "--seed", "7")
    assert gen.returncode == 0, gen.stderr
    contacts.write_bytes(gen.stdout)
    digests = []
    for _ in range(2):
        with open(contacts, "rb") as f:
            out = subprocess.run([hotlined, "replay"], stdin=f, capture_output=True, timeout=600)
        lines = out.stdout.splitlines()
        assert len(lines) == 100000
        digests.append(hashlib.sha256(out.stdout).hexdigest())
    assert digests[0] == digests[1]
    routes = {}
    for line in lines:
        d = json.loads(line)
        assert "error" not in d, d
        routes[d["route"]] = routes.get(d["route"], 0) + 1
    # Every route kind shows up in a realistic day.
    assert set(routes) == {"DIRECT_ANSWER", "WORK_ORDER", "SUBCENTER_TRANSFER", "EMERGENCY_TRANSFER",
                           "UTILITY_LINKAGE", "NOT_ACCEPTED"}, routes


def test_replay_reports_bad_lines_and_goes_on(hotlined):
    good = json.dumps({"contactId": "a", "channel": "SMS", "receivedAt": "2026-11-26T02:00:00Z",
                       "caller": {"phone": "0839-3266666"}, "content": "我要投诉小区物业"}, ensure_ascii=False)
    stdin = ("\n".join([good, "{", "\xff", json.dumps({"contactId": "b"}), good]) + "\n").encode("utf-8", "surrogateescape")
    out = run(hotlined, "replay", stdin=stdin)
    assert out.returncode == 1
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(lines) == 5
    assert lines[0]["route"] == "WORK_ORDER"
    assert lines[1]["error"]["reason"] == "INVALID_JSON" and lines[1]["line"] == 2
    assert lines[2]["line"] == 3
    assert lines[3]["error"]["reason"] == "UNKNOWN_CHANNEL"
    assert lines[4]["caseId"] == lines[0]["caseId"]


def test_check_config_reports_every_error(hotlined, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\ngrpc_addr = "nowhere"\ncolour = "red"\n[store]\nretention_days = 30\n[extra]\n')
    out = run(hotlined, "check-config", str(bad))
    assert out.returncode == 1
    err = out.stderr.decode()
    for needle in ("server.grpc_addr", "server.colour", "store.retention_days", "extra: unknown section"):
        assert needle in err, err
    ok = run(hotlined, "check-config")
    assert ok.returncode == 0, ok.stderr


def test_dedup_eval_json_meets_the_targets_on_the_committed_set(hotline_bench):
    import json
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[3]
    out = run(hotline_bench, "dedup-eval", str(root / "bench" / "data" / "dedup" / "labeled.jsonl"), "--json")
    r = json.loads(out.stdout)
    for what in ("repeat", "cluster"):
        assert set(r[what]) >= {"precision", "recall", "f1"}
        assert r[what]["precision"] >= 0.95, r
        assert r[what]["recall"] >= 0.90, r
    assert r["pairs"]["cluster"]["true_pairs"] > 1000


# Matters the lexicon does not know (bench/data/dedup/README.md): floors just under the figures
# measured when the rules for them were last set (seventeenth session: a service or field in
# common is not a problem in common, a denied or landmark place is not the caller's, an area
# matter at two named places is two clusters, places read with their function characters;
# eighteenth session: a market's kind is no part of its name, a proper name both texts use
# places an outage). Only the three tuning sets were tuned on; unknown_fresh6 was written for
# the seventeenth session and scored, never read. The eighteenth session's changes (also: at
# one fine place, problem types that lean the same way stand in for the category agreement)
# raised recall on every set by 1-4 points and cost precision on tuning3 (0.787 to 0.762),
# fresh4 (0.925 to 0.917) and fresh5 (0.732 to 0.725): those floors were lowered, and said so.
# Far below the 0.95 / 0.90 targets: these floors keep what was gained and show the gap.
# Nineteenth session (the repeat rule: problem types part a caller's two matters, words of
# going on link a terse follow-up, a caller saying "another matter" is believed): repeat
# floors raised to the new figures, tuning3's repeat recall lowered (1.000 to 0.976: a
# follow-up now goes to the other of the caller's two matters at one pig farm), and two sets
# written for repeats added: repeats_tuning (tuned on) and repeats_eval (scored, never read).
# Twenty-first session (the classifier retrained with three more writers, H, J and K; H's
# contacts also in the proper names' background, all three in the characters' weights): two
# floors lowered, and said so — unknown_fresh2's cluster recall (0.695 to 0.682) and
# unknown_fresh6's repeats (0.978 / 0.917 to 0.956 / 0.896); tuning3's repeats and fresh7's
# cluster precision raised.
UNKNOWN_FLOORS = {
    "unknown_tuning.jsonl": {"cluster": (0.96, 0.68), "repeat": (0.99, 0.92)},
    "unknown_tuning2.jsonl": {"cluster": (0.95, 0.65), "repeat": (0.99, 0.92)},
    "unknown_tuning3.jsonl": {"cluster": (0.77, 0.64), "repeat": (0.97, 0.99)},
    "unknown_holdout.jsonl": {"cluster": (0.92, 0.70), "repeat": (0.99, 0.99)},
    "unknown_fresh.jsonl": {"cluster": (0.85, 0.69), "repeat": (0.99, 0.99)},
    "unknown_fresh2.jsonl": {"cluster": (0.84, 0.68), "repeat": (0.96, 0.99)},
    "unknown_fresh3.jsonl": {"cluster": (0.87, 0.62), "repeat": (0.94, 0.94)},
    "unknown_fresh4.jsonl": {"cluster": (0.91, 0.59), "repeat": (0.99, 0.93)},
    "unknown_fresh5.jsonl": {"cluster": (0.74, 0.43), "repeat": (0.99, 0.93)},
    "unknown_fresh6.jsonl": {"cluster": (0.62, 0.54), "repeat": (0.95, 0.89)},
    # Written in the eighteenth session after its rule changes; scored, never read.
    "unknown_fresh7.jsonl": {"cluster": (0.91, 0.63), "repeat": (0.99, 0.87)},
    # A caller's follow-ups and second matters (nineteenth session, two writers).
    "repeats_tuning.jsonl": {"cluster": (0.83, 0.18), "repeat": (0.79, 0.72)},
    "repeats_eval.jsonl": {"cluster": (0.68, 0.32), "repeat": (0.61, 0.55)},
}


@pytest.mark.parametrize("name", sorted(UNKNOWN_FLOORS))
def test_dedup_eval_on_matters_the_lexicon_does_not_know(hotline_bench, name):
    import json
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[3]
    out = run(hotline_bench, "dedup-eval", str(root / "bench" / "data" / "dedup" / name), "--json")
    r = json.loads(out.stdout)
    for what, (p, rec) in UNKNOWN_FLOORS[name].items():
        assert r[what]["precision"] >= p, (what, r)
        assert r[what]["recall"] >= rec, (what, r)


def test_dedup_eval_reports_a_bad_line(hotline_bench, tmp_path):
    import subprocess
    f = tmp_path / "bad.jsonl"
    f.write_text('{"contact": {"contactId": "a"}}\nnot json\n')
    p = subprocess.run([hotline_bench, "dedup-eval", str(f)], capture_output=True, text=True)
    assert p.returncode != 0
    assert "line" in p.stderr


def test_train_problems_writes_a_model_that_dedup_eval_uses(hotline_bench, tmp_path):
    """A center's own problem types: train on its paraphrases, score with the result."""
    import json
    import pathlib
    texts = {
        "dog": ["楼下的狗天天晚上叫", "狗叫得睡不着", "邻居家的狗一直叫", "隔壁金毛半夜嚎"],
        "locker": ["快递柜坏了取不出件", "快递柜屏幕不亮", "小区快递柜打不开", "取件柜门卡死了"],
        "fumes": ["楼下饭馆油烟太大", "烧烤摊烟熏得窗户都不敢开", "餐馆排烟管对着窗户", "油烟呛人"],
    }
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "type": k}, ensure_ascii=False) + "\n"
                              for k, ts in texts.items() for t in ts))
    model = tmp_path / "problems.bin"
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"text": t, "type": k}, ensure_ascii=False) + "\n"
                             for k, t in [("dog", "狗叫个不停"), ("locker", "快递柜打不开"), ("fumes", "油烟大")]))
    p = run(hotline_bench, "train-problems", "--corpus", str(corpus), "--out", str(model),
            "--eval", str(other))
    assert p.returncode == 0, p.stderr
    assert b"3 types, 12 paraphrases" in p.stderr, p.stderr
    # Scored on another writer's paraphrases: the three short texts are named right.
    assert b"3 paraphrases, accuracy 1.000" in p.stderr, p.stderr
    assert model.stat().st_size > 0
    root = pathlib.Path(__file__).resolve().parents[3]
    labeled = str(root / "bench" / "data" / "dedup" / "handwritten.jsonl")
    p = run(hotline_bench, "dedup-eval", labeled, "--types", str(model), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["contacts"] == 31
    # A model file that is not one, and a corpus line without a type, are refused by name.
    p = run(hotline_bench, "dedup-eval", labeled, "--types", str(corpus))
    assert p.returncode != 0 and b"not a hotline problem-type model" in p.stderr, p.stderr
    corpus.write_text('{"text": "狗叫"}\n')
    p = run(hotline_bench, "train-problems", "--corpus", str(corpus), "--out", str(model))
    assert p.returncode != 0 and b"line 1" in p.stderr, p.stderr
