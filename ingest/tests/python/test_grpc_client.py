"""hotlined serve driven by an independent client: Python grpcio with stubs
generated from proto/ at test time."""

import grpc
import pytest

from conftest import start_daemon


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
    texts = ["请问公积金怎么提取", "楼下饭店着火了", "请问个税怎么退税", "家里停电了", "我要起诉他"]
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
