"""Stats/Watch read by an independent client: grpcio stubs generated from
proto/, and the HdrHistogram V2 DEFLATE snapshots decoded by the Python
`hdrhistogram` package (HdrHistogram_py), which must find the same counts."""

import base64
import time

import grpc
import pytest

from conftest import start_daemon


@pytest.fixture(scope="module")
def daemon(hotlined, tmp_path_factory):
    proc, addr, admin_port = start_daemon(hotlined, tmp_path_factory.mktemp("stats"),
                                          config="[stats]\ninterval_secs = 1\nnode = \"py\"\n")
    yield addr, admin_port
    proc.terminate()
    assert proc.wait(timeout=60) == 0


def test_answer_wait_histograms_decode_to_the_recorded_waits(stubs, daemon):
    from hdrh.histogram import HdrHistogram
    pb, rpc = stubs
    addr, _ = daemon
    now_ms = int(time.time() * 1000)
    # 120 answered calls with known waits: 0.26 s .. 6.21 s, 55 of them within 3 s.
    waits_ms = [260 + 50 * i for i in range(120)]
    events = []
    for i, w in enumerate(waits_ms):
        t0 = now_ms - 300_000 + i * 1000
        for typ, at in ((pb.OFFERED, t0), (pb.ANSWERED, t0 + w)):
            e = pb.CallEvent(call_id=f"hdr-{i}", type=typ, queue="12366", channel=pb.PHONE)
            e.at.FromMilliseconds(at)
            events.append(e)
    with grpc.insecure_channel(addr) as ch:
        summary = rpc.IntakeStub(ch).ReportCallEvents(iter(events))
        assert summary.accepted == 240
        merged = HdrHistogram(1, 3_600_000_000, 3)
        stream = rpc.StatsStub(ch).Watch(pb.WatchRequest(queues=["12366"]), timeout=30)
        seen = 0
        for snap in stream:
            assert [q.queue for q in snap.queues] == ["12366"]
            for h in snap.queues[0].histograms:
                assert h.name == "answer_wait"
                if h.count == 0:
                    continue
                decoded = HdrHistogram.decode(base64.b64encode(h.hdr_v2))
                assert decoded.get_total_count() == h.count
                # The quantiles the daemon reports are the decoded histogram's.
                assert decoded.get_value_at_percentile(99.0) / 1e6 == pytest.approx(h.p99_seconds, rel=1e-3)
                merged.add(decoded)
                seen += h.count
            if seen >= len(waits_ms):
                break
        stream.cancel()
    assert merged.get_total_count() == len(waits_ms)
    within_3s = sum(c.count_added_in_this_iter_step for c in merged.get_recorded_iterator()
                    if c.value_iterated_to <= 3_000_000)
    assert within_3s == sum(1 for w in waits_ms if w <= 3000) == 55
    assert merged.get_min_value() == pytest.approx(260_000, rel=1e-3)
    assert merged.get_max_value() == pytest.approx(6_210_000, rel=1e-3)
    assert merged.get_value_at_percentile(50) == pytest.approx(3_210_000, rel=1e-3)


def test_pipeline_latency_is_in_every_snapshot(stubs, daemon):
    from hdrh.histogram import HdrHistogram
    pb, rpc = stubs
    addr, _ = daemon
    with grpc.insecure_channel(addr) as ch:
        intake = rpc.IntakeStub(ch)
        for i in range(10):
            c = pb.Contact(contact_id=f"lat-{i}", channel=pb.PHONE, content="请问社保卡补办需要带什么材料")
            c.received_at.GetCurrentTime()
            c.caller.phone = "13900001111"
            c.location.district_code = "510802"
            intake.Submit(c)
        total = 0
        stream = rpc.StatsStub(ch).Watch(pb.WatchRequest(), timeout=30)
        for snap in stream:
            h = next(h for h in snap.histograms if h.name == "pipeline_latency")
            if h.count:
                assert HdrHistogram.decode(base64.b64encode(h.hdr_v2)).get_total_count() == h.count
            total += h.count
            if total >= 10:
                break
        stream.cancel()
    assert total == 10
