"""hotlined serve driven by an independent client: Python grpcio with stubs
generated from proto/ at test time."""

import grpc
import pytest

from conftest import start_daemon, wait_ticks


@pytest.fixture(scope="module")
def daemon(hotlined, tmp_path_factory):
    proc, addr, admin_port = start_daemon(hotlined, tmp_path_factory.mktemp("grpc"))
    yield addr, admin_port, None
    proc.terminate()
    assert proc.wait(timeout=60) == 0


def contact(pb, cid, text, channel=None):
    c = pb.Contact(contact_id=cid, channel=channel or pb.PHONE, content=text)
    c.received_at.GetCurrentTime()
    c.caller.phone = "+86 139-0000-1111"
    c.location.district_code = "510824"
    return c


def test_submit_and_resubmit(stubs, daemon):
    pb, rpc = stubs
    addr, _, _ = daemon
    with grpc.insecure_channel(addr) as ch:
        intake = rpc.IntakeStub(ch)
        d = intake.Submit(contact(pb, "py-1", "公司拖欠我们农民工工资三个月了"))
        assert d.route == pb.WORK_ORDER
        assert d.lead_unit == "510824.rsj"
        assert d.kind == pb.COMPLAINT
        assert d.deadlines.HasField("complete_by")
        assert "13900001111" not in d.caller_ref
        assert intake.Submit(contact(pb, "py-1", "anything else")) == d


def test_stream(stubs, daemon):
    pb, rpc = stubs
    addr, _, _ = daemon
    texts = ["请问公积金怎么提取", "楼下饭店着火了", "请问个税怎么退税", "家里停电了", "法院判了我不服，你们帮我改判"]
    expected = [pb.DIRECT_ANSWER, pb.EMERGENCY_TRANSFER, pb.SUBCENTER_TRANSFER, pb.UTILITY_LINKAGE, pb.NOT_ACCEPTED]
    reqs = [contact(pb, f"py-s-{i}", texts[i % 5]) for i in range(1000)]
    reqs[500].content = ""
    with grpc.insecure_channel(addr) as ch:
        acks = list(rpc.IntakeStub(ch).SubmitStream(iter(reqs)))
    assert len(acks) == 1000
    for i, a in enumerate(acks):
        assert a.contact_id == f"py-s-{i}"
        if i == 500:
            assert a.error.reason == "EMPTY_CONTENT"
        else:
            assert not a.HasField("error") and a.route == expected[i % 5], a


def test_garbage_bytes_are_invalid_argument(daemon):
    addr, _, _ = daemon
    with grpc.insecure_channel(addr) as ch:
        raw = ch.unary_unary("/hotline.v1.Intake/Submit")  # no serializers: bytes in, bytes out
        with pytest.raises(grpc.RpcError) as e:
            raw(b"\xff\xff\xff\xff\x0f garbage")
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as e:
            raw(b"x" * (70 * 1024))
        assert e.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE)


def test_reflection_lists_the_services(daemon):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
    addr, _, _ = daemon
    with grpc.insecure_channel(addr) as ch:
        services = set(ProtoReflectionDescriptorDatabase(ch).get_services())
    assert {"hotline.v1.Intake", "grpc.health.v1.Health"} <= services


def test_call_events_become_service_level_gauges_that_a_prometheus_parser_reads(stubs, daemon):
    import time
    import urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    pb, rpc = stubs
    addr, admin_port, _ = daemon
    base = int(time.time()) - 1800  # half an hour ago: in the 1 h window, not in the 15 min one
    events = []

    def ev(call, typ, at):
        e = pb.CallEvent(call_id=call, type=typ, queue="12345", channel=pb.PHONE)
        e.at.FromSeconds(at)
        return e

    # 21 calls: 15 answered within 2 s, 4 answered after 10 s, 2 abandoned after 20 s.
    for i in range(21):
        t0 = base + i * 10
        events.append(ev(f"py-call-{i}", pb.OFFERED, t0))
        if i < 15:
            events.append(ev(f"py-call-{i}", pb.ANSWERED, t0 + 2))
        elif i < 19:
            events.append(ev(f"py-call-{i}", pb.ANSWERED, t0 + 10))
        else:
            events.append(ev(f"py-call-{i}", pb.ABANDONED, t0 + 20))
    events += events[:5]  # replayed events count once
    with grpc.insecure_channel(addr) as ch:
        summary = rpc.IntakeStub(ch).ReportCallEvents(iter(events))
    assert (summary.accepted, summary.duplicates) == (42, 5)
    wait_ticks(admin_port, "service_targets")  # the gauges are set in its rounds
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):  # raises on malformed exposition
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    HOME = "510800"  # the default tenant: the shipped Guangyuan rules
    key = lambda name, **labels: samples[(name, tuple(sorted(labels.items())))]
    assert key("hotline_answer_rate_ratio", tenant=HOME, queue="12345", window="1h") == pytest.approx(19 / 21)
    assert key("hotline_service_level_ratio", tenant=HOME, queue="12345", window="1h") == pytest.approx(15 / 19)
    assert key("hotline_service_level_with_abandons_ratio", tenant=HOME, queue="12345", window="1h") == pytest.approx(15 / 21)
    assert key("hotline_window_calls", tenant=HOME, queue="12345", window="1h", outcome="offered") == 21
    assert key("hotline_window_calls", tenant=HOME, queue="12345", window="15m", outcome="offered") == 0
    assert key("hotline_alerts_total", kind="ANSWER_RATE_LOW") == 1
    bucket_edges = {float(s.labels["le"]) for f in text_string_to_metric_families(text) for s in f.samples
                    if s.name == "hotline_answer_latency_seconds_bucket"}
    assert {3.0, 180.0, 600.0, 1800.0} <= bucket_edges, "SLA thresholds are bucket edges"


def test_order_events_move_a_case_and_bad_ones_are_refused(stubs, daemon):
    """The life of a case from an independent client: a return with its
    reason, a re-dispatch, an extension reviewed by the center, completion and
    an unsatisfied return visit; the events its state does not allow come
    back in the summary with their status and code, and change nothing."""
    pb, rpc = stubs
    addr, _, _ = daemon
    with grpc.insecure_channel(addr) as ch:
        intake = rpc.IntakeStub(ch)
        c = contact(pb, "py-life", "我要投诉小区物业，电梯坏了一个月都没人修")
        c.received_at.FromSeconds(c.received_at.seconds - 3600)
        d = intake.Submit(c)
        assert d.route == pb.WORK_ORDER
        t0 = c.received_at.seconds

        def ev(kind, minutes, **kw):
            e = pb.OrderEvent(case_id=d.case_id, type=kind, **kw)
            e.at.FromSeconds(t0 + minutes * 60)
            return e

        s = intake.ReportOrderEvents(iter([
            ev(pb.DISPATCHED, 2, unit=d.lead_unit),
            ev(pb.SIGNED, 5),
            ev(pb.RETURNED, 10, reason="不属于本单位职责"),
            ev(pb.DISPATCHED, 12, unit="510824.scjg"),
            ev(pb.SIGNED, 14),
            ev(pb.ASSIGNED_BY_LEADERSHIP, 15),
            ev(pb.RETURNED, 16, reason="还是不归我们"),
            ev(pb.EXTENSION_REQUESTED, 20, extension_days=2),
            ev(pb.EXTENSION_APPROVED, 25),
            ev(pb.COMPLETED, 40),
            ev(pb.REVISITED, 50, satisfaction=pb.UNSATISFIED),
            ev(pb.SIGNED, -5),
        ]))
        assert (s.accepted, s.rejected, s.extensions_pending, s.extensions_granted) == (10, 2, 1, 1), s
        assert [(r.index, r.status, r.code) for r in s.rejections] == [
            (6, "FAILED_PRECONDITION", "ASSIGNED_BY_LEADERSHIP"),
            (11, "INVALID_ARGUMENT", "BEFORE_INTAKE"),
        ]
        # Re-handled after the unsatisfied visit: a second visit needs a second completion.
        s = intake.ReportOrderEvents(iter([ev(pb.REVISITED, 55, satisfaction=pb.SATISFIED)]))
        assert [r.code for r in s.rejections] == ["CASE_NOT_COMPLETED"]


def test_with_tokens_health_and_reflection_stay_open_and_the_rest_needs_a_token(stubs, hotlined, tmp_path):
    """README, "Access": health and reflection answer without a token (load
    balancers and grpcurl), every other call needs one of its role."""
    import hashlib
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
    pb, rpc = stubs
    gate = "g" * 40
    cfg = ("[auth]\ntokens = [\n"
           f"  {{ role = \"gateway\", sha256 = \"{hashlib.sha256(gate.encode()).hexdigest()}\" }},\n]\n")
    proc, addr, _ = start_daemon(hotlined, tmp_path, cfg)
    try:
        with grpc.insecure_channel(addr) as ch:
            assert {"hotline.v1.Intake", "grpc.health.v1.Health"} <= set(ProtoReflectionDescriptorDatabase(ch).get_services())
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="hotline.v1.Intake"))
            assert status.status == health_pb2.HealthCheckResponse.SERVING
            intake = rpc.IntakeStub(ch)
            with pytest.raises(grpc.RpcError) as e:
                intake.Submit(contact(pb, "auth-1", "请问公积金怎么提取"))
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
            d = intake.Submit(contact(pb, "auth-1", "请问公积金怎么提取"), metadata=[("authorization", f"Bearer {gate}")])
            assert d.route == pb.DIRECT_ANSWER
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
