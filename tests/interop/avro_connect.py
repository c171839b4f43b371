"""AvroConverter against clients Sluice did not write, on `sluice standalone` with its embedded
registry (no schema.registry.url anywhere in the connector configs):

1. a spooldir CSV source with a typed schema writes through AvroConverter; confluent-kafka's
   AvroDeserializer reads every record with the right values and types, and the registry holds
   the subject's schema;
2. confluent-kafka's AvroSerializer writes records (nested record, union, decimal, timestamp,
   enum, array, map); a FileStreamSink and `sluice transform --input raw` read them through
   AvroConverter with the expected Connect values;
3. a compatible change of the source's schema registers version 2; an incompatible one fails
   the task with the registry's 409 message, or lands in the dead letter queue under
   errors.tolerance=all.

    python3 avro_connect.py BOOTSTRAP REST_URL REGISTRY_URL WORK_DIR SLUICE_BINARY
"""

import base64
import datetime
import decimal
import json
import os
import subprocess
import sys
import time
import urllib.request

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ORDER_SCHEMA = {
    "name": "com.example.Order", "type": "STRUCT", "isOptional": False,
    "fieldSchemas": {
        "id": {"type": "INT64", "isOptional": False},
        "customer": {"type": "STRING", "isOptional": True},
        "amount": {"name": "org.apache.kafka.connect.data.Decimal", "type": "BYTES",
                   "isOptional": False, "parameters": {"scale": "2"}},
        "qty": {"type": "INT16", "isOptional": False},
        "day": {"name": "org.apache.kafka.connect.data.Date", "type": "INT32", "isOptional": False},
    },
}


def rest(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


def eventually(what, probe, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def consume(bootstrap, topic, count, deserialize):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}-{time.time()}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    out = []
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        out.append(deserialize(message))
    consumer.close()
    assert len(out) == count, f"{topic}: {len(out)} of {count} records"
    return out


def spooldir(work, name, topic, schema, rows):
    base = os.path.join(work, name)
    dirs = {k: os.path.join(base, k) for k in ("input", "finished", "error")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(dirs["input"], f"{name}.csv.tmp"), "w") as f:
        f.write(rows)
    os.rename(os.path.join(dirs["input"], f"{name}.csv.tmp"), os.path.join(dirs["input"], f"{name}.csv"))
    return {
        "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirCsvSourceConnector",
        "input.path": dirs["input"], "finished.path": dirs["finished"], "error.path": dirs["error"],
        "input.file.pattern": r".*\.csv", "topic": topic, "csv.first.row.as.header": "true",
        "csv.null.field.indicator": "EMPTY_SEPARATORS",
        "value.schema": json.dumps(schema),
        "value.converter": "io.confluent.connect.avro.AvroConverter",
    }


def source_to_avro_consumer(bootstrap, rest_url, registry, work):
    config = spooldir(work, "orders", "orders-avro", ORDER_SCHEMA,
                      "id,customer,amount,qty,day\n1,\"Smith, J\",10.50,3,2024-02-29\n2,,0.99,-1,2024-03-01\n")
    status, body = rest(rest_url, "POST", "/connectors", {"name": "orders-avro", "config": config})
    assert status == 201, (status, body)
    deserializer = AvroDeserializer(registry)
    records = consume(bootstrap, "orders-avro", 2,
                      lambda m: deserializer(m.value(), SerializationContext(m.topic(), MessageField.VALUE)))
    expected = [
        {"id": 1, "customer": "Smith, J", "amount": decimal.Decimal("10.50"), "qty": 3,
         "day": datetime.date(2024, 2, 29)},
        {"id": 2, "customer": None, "amount": decimal.Decimal("0.99"), "qty": -1,
         "day": datetime.date(2024, 3, 1)},
    ]
    assert records == expected, records
    latest = registry.get_latest_version("orders-avro-value")
    schema = json.loads(latest.schema.schema_str)
    assert latest.version == 1 and schema["name"] == "Order" and schema["namespace"] == "com.example", schema
    qty = next(f for f in schema["fields"] if f["name"] == "qty")
    assert qty["type"] == {"type": "int", "connect.type": "int16"}, qty
    print(f"  spooldir CSV -> AvroConverter -> AvroDeserializer: {records[0]}")
    return config


PY_SCHEMA = json.dumps({
    "type": "record", "name": "Shipment", "namespace": "com.acme",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "to", "type": {"type": "record", "name": "Address",
                                "fields": [{"name": "city", "type": "string"},
                                           {"name": "zip", "type": ["null", "string"], "default": None}]}},
        {"name": "ref", "type": ["null", "string", "long"]},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "SENT"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "int"}},
    ],
})


def avro_serializer_to_sink(bootstrap, rest_url, registry, registry_base, work, sluice):
    serializer = AvroSerializer(registry, PY_SCHEMA)
    producer = Producer({"bootstrap.servers": bootstrap})
    at = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    sent = [
        {"id": 1, "to": {"city": "Oslo", "zip": "0150"}, "ref": "A-1", "price": decimal.Decimal("12.30"),
         "at": at, "state": "NEW", "tags": ["fragile"], "attrs": {"boxes": 2}},
        {"id": 2, "to": {"city": "Lyon", "zip": None}, "ref": 77, "price": decimal.Decimal("-0.05"),
         "at": at, "state": "SENT", "tags": [], "attrs": {}},
        {"id": 3, "to": {"city": "Kyiv", "zip": None}, "ref": None, "price": decimal.Decimal("0.00"),
         "at": at, "state": "NEW", "tags": ["a", "b"], "attrs": {"x": -1, "y": 1}},
    ]
    raw = []
    for record in sent:
        value = serializer(record, SerializationContext("shipments", MessageField.VALUE))
        raw.append(value)
        producer.produce("shipments", value=value)
    assert producer.flush(30) == 0

    # The dry run: the same bytes read as a sink's consumer would, printed as Connect data.
    lines = "".join(json.dumps({"topic": "shipments", "partition": 0, "offset": i, "timestamp": None,
                                "key": None, "value": {"bytes": base64.b64encode(v).decode()},
                                "headers": []}) + "\n" for i, v in enumerate(raw))
    config_path = os.path.join(work, "shipments-dry-run.json")
    with open(config_path, "w") as f:
        json.dump({"value.converter": "io.confluent.connect.avro.AvroConverter",
                   "value.converter.schema.registry.url": registry_base}, f)
    out = subprocess.run([sluice, "transform", "--config", config_path, "--input", "raw"],
                         input=lines, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    values = [json.loads(line)["value"] for line in out.stdout.splitlines()]
    first = values[0]
    assert first["schema"]["name"] == "com.acme.Shipment", first["schema"]
    assert first["schema"]["version"] == 1, first["schema"]
    fields = {f["field"]: f for f in first["schema"]["fields"]}
    assert fields["ref"]["name"] == "io.confluent.connect.avro.Union" and fields["ref"]["optional"] is True
    assert fields["price"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert fields["at"]["name"] == "org.apache.kafka.connect.data.Timestamp"
    assert fields["state"]["parameters"]["io.confluent.connect.avro.Enum"] == "com.acme.State"
    assert first["payload"]["to"] == {"city": "Oslo", "zip": "0150"}, first["payload"]
    assert first["payload"]["ref"] == {"string": "A-1", "long": None}, first["payload"]
    assert values[1]["payload"]["ref"] == {"string": None, "long": 77}
    assert values[2]["payload"]["ref"] is None
    assert base64.b64decode(first["payload"]["price"]) == (1230).to_bytes(2, "big", signed=True)
    assert first["payload"]["at"] == int(at.timestamp() * 1000)
    assert first["payload"]["state"] == "NEW" and first["payload"]["tags"] == ["fragile"]
    assert first["payload"]["attrs"] == {"boxes": 2}
    print(f"  AvroSerializer -> sluice transform --input raw: {first['payload']}")

    out_file = os.path.join(work, "shipments.txt")
    status, body = rest(rest_url, "POST", "/connectors", {"name": "shipments-sink", "config": {
        "connector.class": "FileStreamSink", "topics": "shipments", "file": out_file,
        "value.converter": "io.confluent.connect.avro.AvroConverter"}})
    assert status == 201, (status, body)
    text = eventually("three lines in the sink's file",
                      lambda: os.path.exists(out_file) and open(out_file).read().count("\n") >= 3 and open(out_file).read())
    lines = text.splitlines()
    assert lines[0].startswith("Struct{id=1,to=Struct{city=Oslo,zip=0150},ref=Struct{string=A-1}"), lines[0]
    assert "price=12.30" in lines[0] and "state=NEW" in lines[0] and "tags=[fragile]" in lines[0], lines[0]
    # A timestamp prints as Java's java.util.Date does, in UTC.
    assert "at=Wed May 01 12:00:00 UTC 2024" in lines[0], lines[0]
    assert lines[1].startswith("Struct{id=2,to=Struct{city=Lyon},ref=Struct{long=77}"), lines[1]
    print(f"  AvroSerializer -> FileStreamSink through AvroConverter: {lines[1]}")


def evolution(bootstrap, rest_url, registry, work):
    registry.set_compatibility("orders-avro-value", "BACKWARD")
    compatible = json.loads(json.dumps(ORDER_SCHEMA))
    compatible["fieldSchemas"]["note"] = {"type": "STRING", "isOptional": True}
    config = spooldir(work, "orders-v2", "orders-avro", compatible,
                      "id,customer,amount,qty,day,note\n3,Kim,1.00,1,2024-03-02,rush\n")
    status, body = rest(rest_url, "POST", "/connectors", {"name": "orders-v2", "config": config})
    assert status == 201, (status, body)
    eventually("version 2", lambda: 2 in registry.get_versions("orders-avro-value"))
    print("  a compatible change (an optional field) registered version 2")

    incompatible = json.loads(json.dumps(ORDER_SCHEMA))
    incompatible["fieldSchemas"]["site"] = {"type": "STRING", "isOptional": False}
    config = spooldir(work, "orders-bad", "orders-avro", incompatible,
                      "id,customer,amount,qty,day,site\n4,Ada,2.00,1,2024-03-03,oslo\n")
    status, body = rest(rest_url, "POST", "/connectors", {"name": "orders-bad", "config": config})
    assert status == 201, (status, body)

    def failed():
        code, status = rest(rest_url, "GET", "/connectors/orders-bad/status")
        tasks = status.get("tasks", []) if code == 200 else []
        return tasks and tasks[0]["state"] == "FAILED" and tasks[0]

    task = eventually("the incompatible source's task to fail", failed)
    trace = task["trace"]
    assert "incompatible" in trace and "orders-avro-value" in trace and "409" in trace, trace
    assert registry.get_versions("orders-avro-value") == [1, 2]
    print(f"  an incompatible change failed the task: {trace.splitlines()[0][:160]}")

    # The same change under errors.tolerance=all: the record lands in the dead letter queue.
    config = spooldir(work, "orders-tolerated", "orders-avro", incompatible,
                      "id,customer,amount,qty,day,site\n5,Bo,3.00,2,2024-03-04,oslo\n")
    config.update({"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "orders-dlq",
                   "errors.deadletterqueue.context.headers.enable": "true"})
    status, body = rest(rest_url, "POST", "/connectors", {"name": "orders-tolerated", "config": config})
    assert status == 201, (status, body)
    dead = consume(bootstrap, "orders-dlq", 1, lambda m: (json.loads(m.value()), dict(m.headers())))
    envelope, headers = dead[0]
    assert envelope["payload"]["id"] == 5 and envelope["payload"]["site"] == "oslo", envelope
    assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER", headers
    assert b"409" in headers["__connect.errors.exception.message"], headers
    _, status = rest(rest_url, "GET", "/connectors/orders-tolerated/status")
    assert status["tasks"][0]["state"] == "RUNNING", status
    print("  under errors.tolerance=all the refused record went to the dead letter queue")


def main():
    bootstrap, rest_url, registry_base, work, sluice = sys.argv[1:6]
    registry = SchemaRegistryClient({"url": registry_base})
    source_to_avro_consumer(bootstrap, rest_url, registry, work)
    avro_serializer_to_sink(bootstrap, rest_url, registry, registry_base, work, sluice)
    evolution(bootstrap, rest_url, registry, work)


if __name__ == "__main__":
    main()
