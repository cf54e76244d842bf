"""Drives a Brook broker from Python with grpcio and stubs generated from proto/brook.proto.

Usage: brook_interop.py <broker host:port> <directory holding brook_pb2.py and brook_pb2_grpc.py>

Creates a topic, produces plain records (the broker encodes them), fetches them back decoded and
checks every field. Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""
import json
import sys

sys.path.insert(0, sys.argv[2])

import grpc  # noqa: E402
import brook_pb2 as pb  # noqa: E402
import brook_pb2_grpc as pb_grpc  # noqa: E402

TOPIC = "python-interop"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    stub = pb_grpc.BrookStub(channel)

    created = stub.CreateTopics(pb.CreateTopicsRequest(topics=[pb.NewTopic(name=TOPIC, num_partitions=2)]), timeout=20)
    check(created.results[0].error_code == pb.NONE, "create: %s" % created.results[0].error_message)

    records = [
        pb.Record(key=b"user-1", value=b"hello from python", timestamp_ms=1700000000000,
                  headers=[pb.RecordHeader(key="lang", value=b"py"), pb.RecordHeader(key="empty")]),
        pb.Record(value=b"no key"),
        pb.Record(key=b"tombstone"),
        pb.Record(key=b"", value=b""),
    ]
    produced = stub.Produce(pb.ProduceRequest(
        acks=pb.ACKS_ALL,
        topics=[pb.TopicProduceData(name=TOPIC, partitions=[
            pb.PartitionProduceData(partition=1, records=records, compression=pb.COMPRESSION_GZIP)])],
    ), timeout=20)
    result = produced.topics[0].partitions[0]
    check(result.error_code == pb.NONE, "produce: %s" % result.error_message)
    check(result.base_offset == 0, "base offset %d" % result.base_offset)

    fetched = stub.Fetch(pb.FetchRequest(
        max_wait_ms=1000, decode_records=True,
        topics=[pb.TopicFetchData(name=TOPIC, partitions=[pb.PartitionFetchData(partition=1, fetch_offset=0)])],
    ), timeout=20)
    part = fetched.topics[0].partitions[0]
    check(part.error_code == pb.NONE, "fetch: %s" % part.error_message)
    check(part.high_watermark == 4, "high watermark %d" % part.high_watermark)
    got = list(part.records)
    check([r.offset for r in got] == [0, 1, 2, 3], "offsets %r" % [r.offset for r in got])

    first = got[0]
    check(first.key == b"user-1" and first.value == b"hello from python", "record 0 key/value")
    check(first.timestamp_ms == 1700000000000, "record 0 timestamp %d" % first.timestamp_ms)
    check([(h.key, h.value if h.HasField("value") else None) for h in first.headers] == [("lang", b"py"), ("empty", None)],
          "record 0 headers")
    check(not got[1].HasField("key") and got[1].value == b"no key", "record 1: null key")
    check(got[2].key == b"tombstone" and not got[2].HasField("value"), "record 2: null value")
    check(got[3].HasField("key") and got[3].key == b"" and got[3].HasField("value") and got[3].value == b"",
          "record 3: empty, not null")

    missing = stub.Fetch(pb.FetchRequest(topics=[pb.TopicFetchData(
        name=TOPIC, partitions=[pb.PartitionFetchData(partition=1, fetch_offset=99)])]), timeout=20)
    bounds = missing.topics[0].partitions[0]
    check(bounds.error_code == pb.OFFSET_OUT_OF_RANGE, "out of range code %d" % bounds.error_code)
    check((bounds.log_start_offset, bounds.high_watermark) == (0, 4), "bounds")

    print(json.dumps({"ok": True, "records": len(got), "values": [r.value.decode() for r in got if r.HasField("value")]}))


if __name__ == "__main__":
    main()
