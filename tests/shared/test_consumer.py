"""The consumer-group loop against a real redis-server, with a small consumer of our own."""

import logging
import threading
import time

import pytest

from services.up.redis_server import RedisServer
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.keys import Keys
from shared.redis_client import connect
from tests.waiting import wait_for


class UpperCaser(StreamConsumer):
    """Copies each entry's `text` upper-cased to `<ns>out`; fails on the text 'boom'."""

    service = "uppercaser"

    def __init__(self, client, keys, inputs, worker="w1", **kw):
        stop = threading.Event()
        super().__init__(client, keys, "uppers", worker, stop, ConsumerOptions(block_ms=100, **kw))
        self.inputs = inputs
        self.passes = 0

    def streams(self):
        return self.inputs

    def handle(self, entry: Entry, pipe):
        text = entry.fields[b"text"].decode()
        if text == "boom":
            raise ValueError("cannot upper-case a bomb")
        pipe.xadd(self.keys._key("out"), {"text": text.upper(), "by": self.worker})
        self.stats.count(entry.stream, "out")

    def on_pass(self):
        self.passes += 1


def start(consumer: StreamConsumer) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread




def outputs(r, keys):
    return [(f[b"text"].decode(), f[b"by"].decode()) for _, f in r.xrange(keys._key("out"))]


def stop_and_join(consumer, thread):
    consumer.stop.set()
    thread.join(5)
    assert not thread.is_alive(), "consumer did not stop within 5 s of its stop event"


def test_each_entry_is_processed_once_and_acknowledged_with_its_output(r, keys):
    stream = keys._key("in:a")
    for word in ["one", "two", "three"]:
        r.xadd(stream, {"text": word})
    consumer = UpperCaser(r, keys, [stream])
    thread = start(consumer)
    assert wait_for(lambda: len(outputs(r, keys)) == 3)
    stop_and_join(consumer, thread)
    assert [t for t, _ in outputs(r, keys)] == ["ONE", "TWO", "THREE"]
    assert r.xpending(stream, "uppers")["pending"] == 0


def test_a_failing_entry_goes_to_dead_with_its_reason_and_the_loop_goes_on(r, keys):
    stream = keys._key("in:a")
    for word in ["before", "boom", "after"]:
        r.xadd(stream, {"text": word})
    consumer = UpperCaser(r, keys, [stream])
    thread = start(consumer)
    assert wait_for(lambda: len(outputs(r, keys)) == 2)
    stop_and_join(consumer, thread)
    dead = r.xrange(keys.dead)
    assert len(dead) == 1
    letter = dead[0][1]
    assert letter[b"service"] == b"uppercaser"
    assert b"cannot upper-case a bomb" in letter[b"reason"]
    assert letter[b"stream"] == stream.encode()
    assert b"boom" in letter[b"payload"]
    assert consumer.stats.total("dead") == 1
    assert r.xpending(stream, "uppers")["pending"] == 0


def test_entries_left_pending_by_a_dead_worker_are_claimed_by_a_live_one(r, keys):
    stream = keys._key("in:a")
    r.xgroup_create(stream, "uppers", id="0", mkstream=True)
    for word in ["lost", "found"]:
        r.xadd(stream, {"text": word})
    # A worker that read both entries and died before acknowledging them.
    r.xreadgroup("uppers", "died", {stream: ">"}, count=10)
    assert r.xpending(stream, "uppers")["pending"] == 2
    consumer = UpperCaser(r, keys, [stream], worker="alive", claim_idle_ms=200, claim_every_s=0.2)
    thread = start(consumer)
    assert wait_for(lambda: len(outputs(r, keys)) == 2)
    stop_and_join(consumer, thread)
    assert sorted(outputs(r, keys)) == [("FOUND", "alive"), ("LOST", "alive")]
    assert consumer.stats.total("claimed") == 2


class Dawdler(UpperCaser):
    """An UpperCaser whose every entry takes `seconds`, as a first MediaPipe frame on a busy machine."""

    def __init__(self, *args, seconds: float, **kw):
        super().__init__(*args, **kw)
        self.seconds = seconds

    def handle(self, entry: Entry, pipe):
        time.sleep(self.seconds)
        super().handle(entry, pipe)


def test_a_live_worker_slower_than_the_claim_idle_time_keeps_its_entries(r, keys):
    stream = keys._key("in:a")
    r.xgroup_create(stream, "uppers", id="0", mkstream=True)
    for word in ["slow", "and", "steady"]:
        r.xadd(stream, {"text": word})
    slow = Dawdler(r, keys, [stream], worker="slow", seconds=1.5, count=3)
    slow_thread = start(slow)
    assert wait_for(lambda: r.xpending(stream, "uppers")["pending"] == 3)
    # Another worker that would claim anything pending 0.2 s and looks every 0.2 s.
    eager = UpperCaser(r, keys, [stream], worker="eager", claim_idle_ms=200, claim_every_s=0.2)
    eager_thread = start(eager)
    assert wait_for(lambda: len(outputs(r, keys)) == 3, timeout_s=30)
    time.sleep(0.5)
    stop_and_join(eager, eager_thread)
    stop_and_join(slow, slow_thread)
    assert sorted(outputs(r, keys)) == [("AND", "slow"), ("SLOW", "slow"), ("STEADY", "slow")]
    assert eager.stats.total("claimed") == 0


def test_a_worker_whose_heartbeat_lapsed_has_its_entries_claimed(r, keys):
    stream = keys._key("in:a")
    r.xgroup_create(stream, "uppers", id="0", mkstream=True)
    r.xadd(stream, {"text": "orphan"})
    r.xreadgroup("uppers", "wedged", {stream: ">"}, count=10)
    r.set(keys.health("uppercaser", "wedged"), "{}", px=1500)  # alive for 1.5 s more, then silent
    consumer = UpperCaser(r, keys, [stream], worker="alive", claim_idle_ms=200, claim_every_s=0.2)
    thread = start(consumer)
    time.sleep(1.0)
    assert outputs(r, keys) == [], "an entry of a worker with a live heartbeat was claimed"
    assert wait_for(lambda: len(outputs(r, keys)) == 1, timeout_s=10)
    stop_and_join(consumer, thread)
    assert outputs(r, keys) == [("ORPHAN", "alive")]


def test_a_restarted_worker_first_finishes_its_own_pending_entries(r, keys):
    stream = keys._key("in:a")
    r.xgroup_create(stream, "uppers", id="0", mkstream=True)
    r.xadd(stream, {"text": "mine"})
    r.xreadgroup("uppers", "same-name", {stream: ">"}, count=10)
    consumer = UpperCaser(r, keys, [stream], worker="same-name")
    thread = start(consumer)
    assert wait_for(lambda: len(outputs(r, keys)) == 1)
    stop_and_join(consumer, thread)
    assert outputs(r, keys) == [("MINE", "same-name")]


def test_streams_that_appear_later_are_read_too(r, keys):
    first, second = keys._key("in:a"), keys._key("in:b")
    inputs = [first]
    consumer = UpperCaser(r, keys, inputs)
    thread = start(consumer)
    r.xadd(first, {"text": "a"})
    assert wait_for(lambda: len(outputs(r, keys)) == 1)
    inputs.append(second)
    r.xadd(second, {"text": "b"})
    assert wait_for(lambda: len(outputs(r, keys)) == 2)
    stop_and_join(consumer, thread)


@pytest.mark.slow
def test_the_loop_waits_out_a_redis_restart_and_resumes(tmp_path, caplog):
    server = RedisServer(tmp_path)
    server.start()
    try:
        caplog.set_level(logging.INFO)
        client = connect(server.url)
        keys = Keys("outage:")
        stream = keys._key("in:a")
        client.xadd(stream, {"text": "before"})
        consumer = UpperCaser(client, keys, [stream])
        thread = start(consumer)
        assert wait_for(lambda: len(outputs(client, keys)) == 1)
        server.stop()
        time.sleep(3)  # the loop now meets connection errors and backs off
        assert thread.is_alive()
        server.start()  # same port, empty: groups must be recreated
        client.xadd(stream, {"text": "after"})
        assert wait_for(lambda: ("AFTER", "w1") in outputs(client, keys), timeout_s=20)
        stop_and_join(consumer, thread)
        messages = [rec.getMessage() for rec in caplog.records]
        assert any("redis unreachable" in m and "retrying in" in m for m in messages)
        assert any("reachable again" in m for m in messages)
    finally:
        server.stop()


class BatchCounter(UpperCaser):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.batches: list[int] = []

    def select(self, entries, pipe):
        self.batches.append(len(entries))
        return entries


def test_with_several_streams_a_short_wait_gathers_entries_into_fewer_passes(r, keys):
    streams = [keys._key("in:a"), keys._key("in:b")]
    consumer = BatchCounter(r, keys, streams, count=1000, linger_ms=100)
    thread = start(consumer)
    try:
        for i in range(100):  # two cameras, 100 entries a second each, for a second
            for stream in streams:
                r.xadd(stream, {"text": f"w{i}"})
            time.sleep(0.01)
        assert wait_for(lambda: len(outputs(r, keys)) == 200, timeout_s=30)
    finally:
        stop_and_join(consumer, thread)
    # A pass, then 0.1 s of waiting: about one pass per 0.1 s (a busy machine only makes fewer),
    # where reading at once would take each entry as it comes, about one pass per 10 ms.
    assert len(consumer.batches) <= 20, consumer.batches
    assert sum(consumer.batches) == 200


def test_one_stream_is_never_kept_waiting(r, keys):
    stream = keys._key("in:a")
    consumer = BatchCounter(r, keys, [stream], count=1000, linger_ms=5000)
    thread = start(consumer)
    try:
        r.xadd(stream, {"text": "one"})
        assert wait_for(lambda: len(outputs(r, keys)) == 1, timeout_s=10)
        started = time.monotonic()
        r.xadd(stream, {"text": "two"})
        assert wait_for(lambda: len(outputs(r, keys)) == 2, timeout_s=10)
        assert time.monotonic() - started < 4, "the second entry waited out the linger"
    finally:
        stop_and_join(consumer, thread)
