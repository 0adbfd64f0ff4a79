"""Kafka in and out with an independent client: confluent-kafka produces
contacts and reads the decisions back from the real broker (tansu)."""
import os
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import free_port, start_daemon


@pytest.fixture(scope="module")
def brokers():
    b = os.environ.get("HOTLINE_KAFKA_BROKERS")
    if not b:
        pytest.fail("HOTLINE_KAFKA_BROKERS is not set: run the README's test command, which starts tansu")
    return b


def test_contacts_in_decisions_out(stubs, hotlined, brokers, tmp_path):
    pb, _ = stubs
    prefix = f"py{os.getpid()}-{free_port()}"
    names = {k: f"{prefix}.{k}" for k in ("contacts", "call-events", "order-events", "decisions", "alerts", "stats", "dlq")}
    admin = AdminClient({"bootstrap.servers": brokers})
    futures = admin.create_topics([NewTopic(n, num_partitions=3 if k in ("contacts", "decisions") else 1,
                                            replication_factor=1) for k, n in names.items()])
    for f in futures.values():
        f.result(timeout=30)
    config = f"""
[kafka]
brokers = "{brokers}"
group_id = "{prefix}-group"
[kafka.topics]
contacts = "{names['contacts']}"
call_events = "{names['call-events']}"
order_events = "{names['order-events']}"
decisions = "{names['decisions']}"
alerts = "{names['alerts']}"
stats = "{names['stats']}"
dlq = "{names['dlq']}"
"""
    proc, _, _ = start_daemon(hotlined, tmp_path, config)
    try:
        # One record per batch: tansu 0.6.0 serves no fetch that starts inside a batch.
        producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "batch.num.messages": 1})
        texts = ["我要投诉小区物业，电梯坏了", "请问公积金怎么提取", "家里停电了", "请问个税怎么退税"]
        sent = {}
        for i in range(200):
            c = pb.Contact(contact_id=f"{prefix}-{i}", channel=pb.SMS, content=texts[i % 4])
            c.received_at.GetCurrentTime()
            c.caller.phone = f"1380000{i % 50:04d}"
            c.location.district_code = "510811"
            producer.produce(names["contacts"], key=c.caller.phone.encode(), value=c.SerializeToString())
            sent[c.contact_id] = texts[i % 4]
        assert producer.flush(30) == 0

        consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"{prefix}-reader",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([names["decisions"]])
        got = {}
        deadline = time.time() + 120
        while len(got) < len(sent) and time.time() < deadline:
            m = consumer.poll(0.5)
            if m is None or m.error():
                continue
            d = pb.Decision()
            d.ParseFromString(m.value())
            assert m.key().decode() == d.case_id, "decisions are keyed by case id"
            got[d.contact_id] = d
        consumer.close()
        assert set(got) == set(sent)
        routes = {pb.RouteKind.Name(d.route) for d in got.values()}
        assert routes == {"WORK_ORDER", "DIRECT_ANSWER", "UTILITY_LINKAGE", "SUBCENTER_TRANSFER"}
        assert all(d.deadlines.HasField("accept_by") for d in got.values()), "SMS contacts get accept_by"
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
