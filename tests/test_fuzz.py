"""A bounded fuzz run (issue 10): thousands of malformed entries on every stream the services read.

The real services run as `signstream` subprocesses against a real redis-server: a keypoint
worker (real MediaPipe), the classifier (a small real keras model, `v1`, that always favours
"thanks") and the trainer. After a warm-up on real frames of a real signing video, seeded junk
goes onto `frames:<camera>`, `keypoints:<camera>`, `models` and `train:requests`, and junk
names into the `cameras` hash. Afterwards the services must still be running, turn new good
frames into correct predictions, have acknowledged everything, have copied what they refused to
`dead` (small and trimmed), have kept their memory flat, and have logged a handful of lines
instead of one per entry, without a traceback; SIGTERM still stops each with exit code 0.

Entries that once broke a service (a trainer request that escaped as a traceback, forged capture
times that blinded a camera, absurd keypoints that got a healthy model rejected, a field name
that is not UTF-8) are sent by the `bugs` fixture to services of their own, one at a time; each
`test_regression_*` checks the fix.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import numpy as np
import psutil
import pytest
import redis

from shared.keys import Keys
from shared.messages import FrameMessage, Prediction, TrainResult, decode_keypoints_entry
from tests.conftest import VIDEOS, signstream_cmd
from tests.frames import publish_frames, video_jpegs
from tests.fuzz_entries import FrameFuzzer, KeypointFuzzer, ModelFuzzer, SeqSource, TrainFuzzer
from tests.model_fixtures import constant_model, write_version

pytestmark = pytest.mark.slow

CAMERA = "cam0"
LABELS = ["hello", "thanks", "iloveyou"]
VERSION = "v1"
MAXLEN = 1000  # SIGNSTREAM_STREAM_MAXLEN: below the ~3,400 dead letters the fuzz causes, so trimming shows
N_FRAMES, N_KEYPOINTS, N_MODELS, N_TRAIN = 2000, 2000, 300, 300
WARM_FRAMES = 60  # 4 s of video at 15 fps: 30-frame windows, stride 5 -> several predictions
GOOD_FRAMES = 75  # 5 s: a fresh 30-frame window, then one every 5 frames: about 10 predictions
# On 2 shared cores MediaPipe takes 0.1-0.7 s a frame and its first frame 6 s: no real-time pacing
# holds, so every frame is processed in turn (the end-to-end test's settings) and the classifier
# takes keypoints up to 2 minutes old instead of counting them stale after 5 s.
KEYPOINTS_FLAGS = ["--max-age", "120", "--no-drop-behind"]
CLASSIFIER_FLAGS = ["--max-age-s", "120"]

# Memory: a service may keep some of what the fuzz made it allocate (MediaPipe graphs for odd
# image sizes, Python arenas, OpenCV buffers after a 5 MB decode), but not a share of every entry.
# 50 MB over the ~2,300 entries a service reads is about 22 KB per entry: any per-entry leak of a vector
# (6.6 KB as float32, more as Python floats), a dead letter, a payload copy or a window would pass
# it within the run, and so would keeping any handful of the 5 MB values.
RSS_GROWTH_MB = 50
# Logs: identical failures are logged once, then once per 10 s with a count (shared/logs.py Throttled),
# so a service logs per kind of failure, not per entry: fewer than 1 line per 20 of the ~2,000 entries
# it reads (keypoints logs 5 WARNING lines here, the trainer none).
MAX_WARNING_LINES = 100
DEAD_PAYLOAD_BYTES = 4096


# --- plumbing ---------------------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20


def start(name: str, args: list[str], env: dict, logs: Path) -> Service:
    logs.mkdir(parents=True, exist_ok=True)
    out = open(logs / f"{name}.out", "wb")
    err = open(logs / f"{name}.err", "wb")
    proc = subprocess.Popen(signstream_cmd(*args), env=env, stdout=out, stderr=err)
    out.close()
    err.close()
    return Service(name, proc, logs / f"{name}.err")


def start_services(tag: str, version: Path, env: dict, tmp: Path) -> dict[str, Service]:
    """The three services that read streams (workers named kp-<tag>, cls-<tag>), logging under tmp/logs."""
    return {
        "keypoints": start("keypoints", ["keypoints", "--worker-id", f"kp-{tag}", *KEYPOINTS_FLAGS], env, tmp / "logs"),
        "classifier": start("classifier", ["classifier", "--model", str(version), "--stride", "5",
                                           "--worker-id", f"cls-{tag}", *CLASSIFIER_FLAGS], env, tmp / "logs"),
        "trainer": start("trainer", ["trainer", "--models-dir", str(tmp / "trained")], env, tmp / "logs"),
    }


def stop_all(services: list[Service]) -> dict[str, int | None]:
    for s in services:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    codes = {}
    for s in services:
        try:
            codes[s.name] = s.proc.wait(30)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(10)
            codes[s.name] = None  # did not stop on SIGTERM
    return codes


def wait_until(predicate, timeout_s: float, what: str, every_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def env_for(redis_url: str, namespace: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(REDIS_URL=redis_url, SIGNSTREAM_NAMESPACE=namespace, PYTHONUNBUFFERED="1",
               SIGNSTREAM_STREAM_MAXLEN=str(MAXLEN), TF_CPP_MIN_LOG_LEVEL="2", GLOG_minloglevel="2")
    return env


def healthy(r: redis.Redis, keys: Keys, service: str) -> bool:
    return any(True for _ in r.scan_iter(match=keys.health(service, "*")))


def delivered_id(r: redis.Redis, stream: str, group: str) -> str | None:
    for g in r.xinfo_groups(stream):
        if g["name"].decode() == group:
            return g["last-delivered-id"].decode()
    return None


def id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n)


def pending(r: redis.Redis, stream: str, group: str) -> int:
    return r.xpending(stream, group)["pending"]


def predictions_since(r: redis.Redis, keys: Keys, since_ts: int) -> list[Prediction]:
    return [p for p in (Prediction.decode(f) for _, f in r.xrange(keys.predictions))
            if p.camera == CAMERA and p.ts >= since_ts]


class RssSampler(threading.Thread):
    """Each service's RSS twice a second while the fuzz runs: growth that goes on is a leak, a step is not."""

    def __init__(self, services: dict[str, Service]):
        super().__init__(daemon=True)
        self.services = services
        self.halt = threading.Event()
        self.samples: dict[str, list[float]] = {n: [] for n in services}

    def run(self) -> None:
        while not self.halt.wait(0.5):
            for n, s in self.services.items():
                try:
                    self.samples[n].append(s.rss_mb())
                except psutil.Error:
                    pass

    def stop(self) -> None:
        self.halt.set()
        self.join(5)


class DeadReader(threading.Thread):
    """Reads every entry of `dead` as it is written (before trimming can drop it) and keeps a summary."""

    def __init__(self, redis_url: str, keys: Keys):
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.keys = keys
        self.halt = threading.Event()
        self.letters: list[dict] = []  # service, stream, entry_id, payload_bytes, reason

    def run(self) -> None:
        last = "0-0"
        while not self.halt.is_set():
            for _, items in self.client.xread({self.keys.dead: last}, block=100, count=1000) or []:
                for entry_id, f in items:
                    last = entry_id
                    text = {k.decode(): v for k, v in f.items()}
                    self.letters.append(dict(
                        service=text.get("service", b"").decode(), stream=text.get("stream", b"").decode(),
                        entry_id=text.get("entry_id", b"").decode(), payload_bytes=len(text.get("payload", b"")),
                        reason=text.get("reason", b"").decode(errors="replace")))

    def ids(self, stream: str) -> list[str]:
        return [d["entry_id"] for d in list(self.letters) if d["stream"] == stream]

    def stop(self) -> None:
        self.halt.set()
        self.join(5)
        self.client.close()


@dataclass
class Published:
    """What went onto one stream: entry ids, their kinds, and which ones must be refused."""

    stream: str
    ids: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    must_refuse: set[str] = field(default_factory=set)


def publish_paced(client: redis.Redis, stream: str, group: str | None, make, n: int, rng: random.Random,
                  refused, timeout_s: float = 120) -> Published:
    """XADD `n` entries from `make()` in bursts of 1-24, each burst read by the group before the next.

    Bursts keep every entry on the stream until the service reads it (the services trim what they
    write, and a flood would otherwise be trimmed unread) and vary what one read holds (the
    classifier takes up to 64 entries a read, decoding and classifying them as one batch).
    """
    out = Published(stream)
    deadline = time.monotonic() + timeout_s
    while len(out.ids) < n:
        burst = min(rng.randint(1, 24), n - len(out.ids))
        pipe = client.pipeline(transaction=False)
        made = [make() for _ in range(burst)]
        for _, fields in made:
            pipe.xadd(stream, fields)
        ids = [i.decode() for i in pipe.execute()]
        for entry_id, (kind, fields) in zip(ids, made):
            out.ids.append(entry_id)
            out.kinds[entry_id] = kind
            if refused(fields):
                out.must_refuse.add(entry_id)
        del made
        if group is not None:
            last = id_tuple(ids[-1])
            while (d := delivered_id(client, stream, group)) is None or id_tuple(d) < last:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{group} did not read {stream} within {timeout_s} s")
                time.sleep(0.003)
    return out


def frame_refused(fields: dict) -> bool:
    try:
        FrameMessage.decode(fields)
        return False
    except Exception:
        return True


def keypoints_refused(fields: dict) -> bool:
    try:
        return decode_keypoints_entry(fields).camera != CAMERA
    except Exception:
        return True


def log_counts(text: str) -> dict[str, int]:
    lines = text.splitlines()
    return {
        "lines": len(lines),
        "WARNING": sum(1 for line in lines if re.search(r"\d WARNING ", line)),
        "ERROR": sum(1 for line in lines if re.search(r"\d ERROR ", line)),
        "Traceback": text.count("Traceback (most recent call last)"),
    }


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    namespace: str
    services: dict[str, Service]
    published: dict[str, Published]
    dead: list[dict]
    alive_after: dict[str, bool]
    rss_warm: dict[str, float]
    rss_fuzzed: dict[str, float]
    rss_end: dict[str, float]
    good_predictions: list[Prediction]
    good_seqs: range
    warm_predictions: int
    pending_end: dict[str, int]
    junk_streams: list[str]
    dead_len: int
    dead_memory: int
    results: list[TrainResult]
    models_len: int
    logs: dict[str, dict[str, int]]
    log_text: dict[str, str]
    exit_codes: dict[str, int | None]
    stats: dict[str, list[dict]]
    rss_during: dict[str, list[float]]
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def run(redis_server, tmp_path_factory) -> Run:
    started = time.monotonic()
    seconds: dict[str, float] = {}
    tmp = tmp_path_factory.mktemp("fuzz")
    namespace = f"t{uuid.uuid4().hex[:8]}:"
    keys = Keys(namespace)
    env = env_for(redis_server.url, namespace)
    r = redis.Redis.from_url(redis_server.url)
    version = write_version(tmp / "models" / VERSION, constant_model(3, favourite=1), LABELS)
    clip = video_jpegs(VIDEOS / "bisig_hello.mp4", 200)  # the whole clip: 29 frames at 15 fps
    assert len(clip) >= 20
    jpegs = [clip[i % len(clip)] for i in range(WARM_FRAMES + GOOD_FRAMES)]  # played on a loop
    # The camera registered as capture registers it, then the junk a careless tool could leave beside it.
    r.hset(keys.cameras, CAMERA, json.dumps({"source": "test", "status": "running"}))

    services = start_services("fuzz", version, env, tmp)
    dead = DeadReader(redis_server.url, keys)
    dead.start()
    exit_codes: dict[str, int | None] = {}
    try:
        wait_until(lambda: all(healthy(r, keys, s) for s in services) or any(
            s.proc.poll() is not None for s in services.values()), 120, "every service's heartbeat")
        assert all(s.proc.poll() is None for s in services.values()), {n: s.log()[-2000:] for n, s in services.items()}
        seconds["start"] = time.monotonic() - started

        # Warm-up: real frames at 15 fps until predictions come, so every service is past its start-up.
        t0 = time.monotonic()
        publish_frames(r, keys, CAMERA, jpegs[:1], first_seq=0)  # MediaPipe builds its graph on a camera's first frame
        wait_until(lambda: r.xlen(keys.keypoints(CAMERA)) >= 1, 120, "the first frame's keypoints")
        publish_frames(r, keys, CAMERA, jpegs[1:WARM_FRAMES], first_seq=1, interval_s=1 / 15)
        wait_until(lambda: len(predictions_since(r, keys, 0)) >= 3, 90, "predictions of the warm-up frames")
        wait_until(lambda: pending(r, keys.frames(CAMERA), "keypoints") == 0
                   and pending(r, keys.keypoints(CAMERA), "classifier") == 0, 60, "the warm-up to be acknowledged")
        time.sleep(1.0)
        warm = predictions_since(r, keys, 0)
        rss_warm = {n: s.rss_mb() for n, s in services.items()}
        vectors = [decode_keypoints_entry(f).vector.copy() for _, f in r.xrange(keys.keypoints(CAMERA))
                   if b"msg" in f][:20]
        assert vectors, "the warm-up produced no keypoints"
        seconds["warm_up"] = time.monotonic() - t0

        # Junk in the cameras hash: the services must ignore it (camera ids are checked) and keep serving cam0.
        r.hset(keys.cameras, mapping={"c" * 10240: "{}", "cam with spaces": "{}", "cam/0": "{}", "cämera": "{}",
                                      "": "{}", "ghost": "{not json", "x\n": "[]"})
        # and in the stats hashes, which the services write beside it and never read back
        for service in SERVICES:
            r.hset(keys.stats(service), mapping={"junk-text": "{not json", "junk-list": "[]",
                                                 "junk-types": '{"cameras": {"cam0": {"out": "many"}}}'})

        # The fuzz: one thread per stream, each with its own seeded generator (random.Random(0) seeds them all).
        t0 = time.monotonic()
        master = random.Random(0)
        seeds = [master.randrange(2**32) for _ in range(8)]
        seqs = SeqSource(base=WARM_FRAMES)
        makers = {
            "frames": (keys.frames(CAMERA), "keypoints", FrameFuzzer(random.Random(seeds[0]), CAMERA, jpegs[0], seqs),
                       N_FRAMES, frame_refused),
            "keypoints": (keys.keypoints(CAMERA), "classifier",
                          KeypointFuzzer(random.Random(seeds[1]), CAMERA, vectors, seqs), N_KEYPOINTS,
                          keypoints_refused),
            "models": (keys.models, None, ModelFuzzer(random.Random(seeds[2]), version, tmp / "junk_models"),
                       N_MODELS, lambda f: True),
            "train": (keys.train_requests, "trainer", TrainFuzzer(random.Random(seeds[3]), tmp / "junk_data"),
                      N_TRAIN, lambda f: True),
        }
        published: dict[str, Published] = {}
        errors: list[BaseException] = []

        def fuzz(name, stream, group, make, n, refused, seed):
            client = redis.Redis.from_url(redis_server.url)
            try:
                published[name] = publish_paced(client, stream, group, make, n, random.Random(seed), refused)
            except BaseException as e:  # reported by the main thread
                errors.append(e)
            finally:
                client.close()

        threads = [threading.Thread(target=fuzz, args=(name, *spec, seeds[4 + i]))
                   for i, (name, spec) in enumerate(makers.items())]
        sampler = RssSampler(services)
        sampler.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        sampler.stop()
        assert not errors, errors
        seconds["fuzz_publish"] = time.monotonic() - t0

        # Everything read and settled: groups acknowledged all, the model watch refused every announcement.
        model_ids = set(published["models"].ids)
        wait_until(lambda: model_ids <= set(dead.ids(keys.models)), 120, "the model watch to refuse every announcement")
        groups = [(keys.frames(CAMERA), "keypoints"), (keys.keypoints(CAMERA), "classifier"),
                  (keys.train_requests, "trainer")]
        wait_until(lambda: all(pending(r, s, g) == 0 for s, g in groups), 60, "the fuzz to be acknowledged")
        time.sleep(1.0)
        rss_fuzzed = {n: s.rss_mb() for n, s in services.items()}
        seconds["fuzz_settle"] = time.monotonic() - t0 - seconds["fuzz_publish"]

        # Good frames again: a fresh run of seqs after the warm-up's, captured now.
        t0 = time.monotonic()
        good_since = int(time.time() * 1000)
        good_seqs = range(WARM_FRAMES, WARM_FRAMES + GOOD_FRAMES)
        publish_frames(r, keys, CAMERA, jpegs[WARM_FRAMES:], first_seq=good_seqs.start, interval_s=1 / 15)
        try:
            wait_until(lambda: len(predictions_since(r, keys, good_since)) >= 5, 60, "predictions of the good frames")
        except AssertionError:
            pass  # the test on them says what came
        time.sleep(1.0)
        good = predictions_since(r, keys, good_since)
        try:
            wait_until(lambda: all(pending(r, s, g) == 0 for s, g in groups), 60, "every group to be acknowledged")
        except AssertionError:
            pass
        pending_end = {f"{s}/{g}": pending(r, s, g) for s, g in groups}
        # A name in the cameras hash without frames is not read: no stream, no group, no tracker.
        junk_streams = [k.decode(errors="replace") for k in r.scan_iter(match=keys.frames("*"), count=1000)
                        if k != keys.frames(CAMERA).encode()]
        seconds["good_frames"] = time.monotonic() - t0

        alive = {n: s.proc.poll() is None for n, s in services.items()}
        rss_end = {n: s.rss_mb() for n, s in services.items() if alive[n]}
        results = [TrainResult.decode(f) for _, f in r.xrange(keys.train_results)]
        models_len = r.xlen(keys.models)
        dead_len = r.xlen(keys.dead)
        dead_memory = r.memory_usage(keys.dead, samples=0) or 0
    finally:
        exit_codes = stop_all(list(services.values()))
        dead.stop()
        stats = {n: [json.loads(v) for w, v in r.hgetall(keys.stats(n)).items() if not w.startswith(b"junk-")]
                 for n in services}
        r.close()
    seconds["total"] = time.monotonic() - started
    texts = {n: s.log() for n, s in services.items()}
    return Run(namespace=namespace, services=services, published=published, dead=list(dead.letters),
               alive_after=alive, rss_warm=rss_warm, rss_fuzzed=rss_fuzzed, rss_end=rss_end, good_predictions=good,
               good_seqs=good_seqs, warm_predictions=len(warm), pending_end=pending_end, junk_streams=junk_streams,
               dead_len=dead_len,
               dead_memory=dead_memory, results=results, models_len=models_len,
               logs={n: log_counts(t) for n, t in texts.items()}, log_text=texts, exit_codes=exit_codes,
               stats=stats, rss_during=sampler.samples, seconds=seconds)


def report(run: Run) -> str:
    by_service = Counter(d["service"] for d in run.dead)
    by_stream = Counter(d["stream"].removeprefix(run.namespace) for d in run.dead)
    lines = [f"seconds: { {k: round(v, 1) for k, v in run.seconds.items()} }",
             f"dead letters by service: {dict(by_service)}; by stream: {dict(by_stream)}",
             f"dead XLEN {run.dead_len}, MEMORY USAGE {run.dead_memory} B, "
             f"largest payload {max((d['payload_bytes'] for d in run.dead), default=0)} B",
             f"train results: {Counter(x.status for x in run.results)}",
             f"predictions of the good frames after the fuzz: {len(run.good_predictions)}, seqs "
             f"{[p.seq for p in run.good_predictions]}"]
    for n in run.services:
        lines.append(f"{n}: RSS warm {run.rss_warm[n]:.0f} MB, after fuzz {run.rss_fuzzed[n]:.0f} MB, "
                     f"end {run.rss_end.get(n, float('nan')):.0f} MB; log {run.logs[n]}; exit {run.exit_codes.get(n)}")
    for n, samples in run.rss_during.items():
        lines.append(f"{n}: RSS during the fuzz, every 0.5 s: {[round(x) for x in samples]}")
    for name, pub in run.published.items():
        kinds = Counter(pub.kinds.values())
        lines.append(f"{name}: {len(pub.ids)} entries, {len(pub.must_refuse)} must be refused; "
                     f"{len(kinds)} kinds: {dict(sorted(kinds.items()))}")
    return "\n".join(lines)


# --- what must hold after the main run ---------------------------------------------------------------------

SERVICES = ["keypoints", "classifier", "trainer"]


def test_report(run):
    print("\n" + report(run))
    assert sum(len(p.ids) for p in run.published.values()) == N_FRAMES + N_KEYPOINTS + N_MODELS + N_TRAIN
    assert run.warm_predictions >= 3


def test_every_service_is_still_running(run):
    assert run.alive_after == {s: True for s in SERVICES}, \
        {n: run.log_text[n][-3000:] for n, ok in run.alive_after.items() if not ok}


def test_good_frames_after_the_fuzz_are_classified_correctly(run):
    preds = run.good_predictions
    # 75 frames, stride 5: a window every 5 frames once 30 are in (the fuzz leaves the window to start anew).
    assert len(preds) >= 5, f"{len(preds)} predictions of {len(run.good_seqs)} good frames after the fuzz"
    assert all(p.seq in run.good_seqs for p in preds), sorted(p.seq for p in preds)
    assert {(p.label, p.model) for p in preds} == {("thanks", VERSION)}
    assert all(p.frames >= 10 and 0.9 < p.confidence <= 1 for p in preds)


def test_every_refused_entry_is_on_dead_once_and_nothing_good_is(run):
    dead_ids: dict[str, list[str]] = defaultdict(list)
    services: dict[str, set[str]] = defaultdict(set)
    for d in run.dead:
        dead_ids[d["stream"]].append(d["entry_id"])
        services[d["stream"]].add(d["service"])
    for name in ("frames", "keypoints", "models"):
        pub = run.published[name]
        got = dead_ids[pub.stream]
        assert len(got) == len(set(got)), f"{name}: {len(got) - len(set(got))} entries sent to dead twice"
        assert set(got) <= set(pub.ids), f"{name}: entries the fuzz did not write went to dead"
        missing = pub.must_refuse - set(got)
        assert not missing, f"{name}: {len(missing)} refused entries are not on dead, e.g. " \
                            f"{sorted(Counter(pub.kinds[i] for i in missing).items())[:10]}"
        assert services[pub.stream] == {"keypoints" if name == "frames" else "classifier"}
    # Every frame is processed in turn (--no-drop-behind): a bad header, a bad image, a frame of another
    # camera all go to dead; a good frame never does.
    frames = run.published["frames"]
    bad_image = {i for i, k in frames.kinds.items() if k in (
        "other_camera", "empty_jpeg", "random_bytes_as_jpeg", "size_disagrees", "jpeg_header_then_garbage",
        "png_labelled_jpeg", "over_pixel_limit")}
    assert bad_image - frames.must_refuse, "no frame with a sound header and a bad image was sent"
    not_dead = bad_image - set(dead_ids[frames.stream])
    assert not not_dead, Counter(frames.kinds[i] for i in not_dead)
    good = {i for i, k in frames.kinds.items() if k in ("near_valid", "far_future_seq", "too_old", "odd_image")}
    wrongly = good & set(dead_ids[frames.stream])
    reasons = Counter((frames.kinds[d["entry_id"]], d["reason"][:80]) for d in run.dead if d["entry_id"] in wrongly)
    assert good and not wrongly, reasons.most_common(5)
    # The classifier refuses exactly the entries that do not decode or that name another camera.
    assert set(dead_ids[run.published["keypoints"].stream]) == run.published["keypoints"].must_refuse
    assert len(frames.must_refuse) > N_FRAMES / 2
    assert len(run.published["keypoints"].must_refuse) > N_KEYPOINTS / 2


def test_every_bad_train_request_is_rejected_once_and_none_trains(run):
    """The trainer answers a bad request on `train:results` with status "rejected" (its docstring, the
    README); nothing is trained, nothing announced."""
    pub = run.published["train"]
    assert not [d for d in run.dead if d["stream"] == pub.stream], "bad requests went to dead instead of an answer"
    assert len(run.results) == len(pub.ids)
    assert {x.status for x in run.results} == {"rejected"}
    assert all(x.reason and not x.version for x in run.results)
    named = Counter(x.request_id for x in run.results if x.request_id.startswith("fuzz-"))
    assert named and set(named.values()) == {1}
    assert run.models_len == N_MODELS, "something announced a model"


def test_dead_letters_stay_small_and_trimmed(run):
    assert run.dead, "nothing went to dead"
    biggest = max(d["payload_bytes"] for d in run.dead)
    assert biggest < DEAD_PAYLOAD_BYTES, f"a dead letter's payload is {biggest} bytes"
    assert len(run.dead) > MAXLEN, "too few dead letters to see the trimming"
    # Approximate trimming removes whole stream nodes (100 entries each by default).
    assert run.dead_len <= MAXLEN + 100
    assert run.dead_memory < (MAXLEN + 100) * (DEAD_PAYLOAD_BYTES + 1024)


def test_everything_is_acknowledged(run):
    assert len(run.pending_end) == 3 and all(n == 0 for n in run.pending_end.values()), run.pending_end


def test_camera_names_without_frames_cost_no_stream(run):
    assert run.junk_streams == []


@pytest.mark.parametrize("service", SERVICES)
def test_memory_stays_flat(run, service):
    growth = run.rss_fuzzed[service] - run.rss_warm[service]
    assert growth < RSS_GROWTH_MB, f"{service}: {run.rss_warm[service]:.0f} -> {run.rss_fuzzed[service]:.0f} MB"


# After a one-off step in the fuzz's first seconds (the 5 MB values and slow model loads come first;
# the allocator keeps heap it grew for them, MediaPipe and OpenCV buffers for new image sizes:
# up to ~20 MB for keypoints, ~30 MB for the classifier here), RSS must stay put over the second half of
# the fuzz (~1,100 entries per service): a leak of 10 KB per entry, a kept vector or dead letter, shows.
RSS_TREND_MB = 10


@pytest.mark.parametrize("service", SERVICES)
def test_memory_does_not_climb_during_the_fuzz(run, service):
    samples = run.rss_during[service]
    assert len(samples) >= 6, samples
    settled = samples[len(samples) // 2:]
    assert max(settled) - settled[0] < RSS_TREND_MB, [round(x) for x in samples]


@pytest.mark.parametrize("service", SERVICES)
def test_no_traceback_in_the_log(run, service):
    assert run.logs[service]["Traceback"] == 0, run.log_text[service][-4000:]



@pytest.mark.parametrize("service", [
    "keypoints", "classifier", "trainer"])
def test_warnings_are_not_one_per_entry(run, service):
    assert run.logs[service]["WARNING"] < MAX_WARNING_LINES, run.logs[service]


@pytest.mark.parametrize("service", [
    "keypoints", "classifier",
    "trainer"])
def test_errors_are_not_one_per_entry(run, service):
    assert run.logs[service]["ERROR"] < MAX_WARNING_LINES, run.logs[service]


def test_sigterm_stops_every_service_with_exit_code_0(run):
    assert run.exit_codes == {s: 0 for s in SERVICES}


# --- known bugs: entries that break a service, each sent to services of their own -----------------------------

FAR_FUTURE_MS = 10 * 365 * 24 * 3600 * 1000  # ten years


def keypoints_entry(camera: str, seq: int, ts: int, vector: np.ndarray) -> dict:
    """A keypoints envelope packed by hand, so that it may hold what KeypointsMessage refuses to build."""
    body = {"v": 1, "camera": camera, "seq": seq, "capture_ts_ms": ts, "vector_f32": vector.astype("<f4").tobytes(),
            "parts": ["pose"], "worker": "fuzz", "processing_ms": 1.0}
    return {"msg": msgpack.packb(body, use_bin_type=True)}


@dataclass
class BugRun:
    train: dict[str, dict] = field(default_factory=dict)  # trigger -> {"result": TrainResult | None, "dead": bool}
    trainer_tracebacks: int = -1
    models: dict[str, dict] = field(default_factory=dict)  # trigger -> {"dead": bool, "tracebacks": int}
    stuck: dict = field(default_factory=dict)
    skip: dict = field(default_factory=dict)
    huge: dict = field(default_factory=dict)
    wide_payload_bytes: int | None = None
    field_name: dict[str, dict] = field(default_factory=dict)  # service -> {"alive": bool, "dead": bool}
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


TRAIN_TRIGGERS = {
    # trigger: (fields of the request, where it breaks)
    "binary_value": {"data": b"\xff\xfe/data", "request_id": "binary_value"},
    "deep_json": {"data": "[" * 3000, "request_id": "deep_json"},
    "options_list_of_names": {"data": '["/nonexistent"]', "options": '["epochs"]',
                              "request_id": "options_list_of_names"},
    "options_number": {"data": '["/nonexistent"]', "options": "5", "request_id": "options_number"},
    "data_number": {"data": "5", "request_id": "data_number"},
    "data_null": {"data": "null", "request_id": "data_null"},
    "data_of_numbers": {"data": "[5, 6]", "request_id": "data_of_numbers"},
    "path_5000_chars": {"data": json.dumps(["/tmp/" + "x" * 5000]), "request_id": "path_5000_chars"},
}


MODEL_TRIGGERS = {
    "binary_value": {"version": "v7", "path": "/nonexistent", "labels": "[]", "note": b"\xff\xfe"},
    "deep_json": {"version": "v8", "path": "/nonexistent", "labels": "[" * 5000},
}


@pytest.fixture(scope="module")
def bugs(redis_server, tmp_path_factory, run) -> BugRun:
    """Fresh services in a fresh namespace; each known trigger in turn, what came of it noted (never raises)."""
    started = time.monotonic()
    out = BugRun()
    tmp = tmp_path_factory.mktemp("bugs")
    namespace = f"t{uuid.uuid4().hex[:8]}:"
    keys = Keys(namespace)
    env = env_for(redis_server.url, namespace)
    r = redis.Redis.from_url(redis_server.url)
    version = write_version(tmp / "models" / VERSION, constant_model(3, favourite=1), LABELS)
    for camera in (CAMERA, "stuck", "skip", "huge"):
        r.hset(keys.cameras, camera, json.dumps({"source": "test", "status": "running"}))
    services = start_services("bugs", version, env, tmp)
    dead = DeadReader(redis_server.url, keys)
    dead.start()

    def soon(predicate, timeout_s: float) -> bool:
        try:
            return bool(wait_until(predicate, timeout_s, "it"))
        except AssertionError:
            return False

    def dead_for(entry_id: str) -> bool:
        return entry_id in {d["entry_id"] for d in list(dead.letters)}

    def dead_reason(entry_id: str) -> str:
        return next((d["reason"][:120] for d in list(dead.letters) if d["entry_id"] == entry_id), "")

    try:
        soon(lambda: all(healthy(r, keys, s) for s in services), 120)

        # The trainer: requests that do not decode, or decode into something its code does not expect. One at a
        # time, so that an answer without a request id (what a request that does not decode gets) is known.
        def ask(fields: dict) -> dict:
            before = r.xlen(keys.train_results)
            entry_id = r.xadd(keys.train_requests, fields).decode()
            soon(lambda: r.xlen(keys.train_results) > before or dead_for(entry_id), 20)
            new = [TrainResult.decode(f) for _, f in r.xrange(keys.train_results)][before:]
            return {"result": new[0] if new else None, "dead": dead_for(entry_id), "why": dead_reason(entry_id)}

        out.train = {name: ask(fields) for name, fields in TRAIN_TRIGGERS.items()}
        out.trainer_tracebacks = log_counts(services["trainer"].log())["Traceback"]

        # The model watch: announcements that do not decode.
        for name, fields in MODEL_TRIGGERS.items():
            before = log_counts(services["classifier"].log())["Traceback"]
            entry_id = r.xadd(keys.models, fields).decode()
            soon(lambda: dead_for(entry_id), 20)
            time.sleep(0.3)
            out.models[name] = {"dead": dead_for(entry_id),
                                "tracebacks": log_counts(services["classifier"].log())["Traceback"] - before}

        def field_name_outcome(service: str, stream: str) -> dict:
            """XADD an entry whose field name is not UTF-8: is the service alive, was the entry refused?"""
            answers = r.xlen(keys.train_results)
            entry_id = r.xadd(stream, {b"\xff\xfe": b"1"}).decode()

            def refused() -> bool:
                return dead_for(entry_id) or (service == "trainer" and r.xlen(keys.train_results) > answers)

            soon(lambda: refused() or services[service].proc.poll() is not None, 20)
            time.sleep(0.3)
            return {"alive": services[service].proc.poll() is None, "refused": refused()}

        out.field_name["trainer"] = field_name_outcome("trainer", keys.train_requests)

        rng = np.random.default_rng(0)

        def vector() -> np.ndarray:
            return rng.random(1662, dtype=np.float32)

        def feed(camera: str, seqs, ts0: int, spacing_ms: int = 67) -> None:
            pipe = r.pipeline(transaction=False)
            for k, seq in enumerate(seqs):
                pipe.xadd(keys.keypoints(camera), keypoints_entry(camera, seq, ts0 + k * spacing_ms, vector()))
            pipe.execute()

        def preds(camera: str, min_seq: int) -> list[Prediction]:
            return [p for p in (Prediction.decode(f) for _, f in r.xrange(keys.predictions))
                    if p.camera == camera and p.seq >= min_seq]

        # A camera's numbering moved far ahead by three entries whose capture time is ten years ahead,
        # while the camera paused; then the camera goes on. Its frames must be classified again.
        now = int(time.time() * 1000)
        feed("stuck", range(0, 40), now - 40 * 67)
        out.stuck["before"] = len(preds("stuck", 0)) if soon(lambda: preds("stuck", 0), 20) else 0
        feed("stuck", range(10**6, 10**6 + 3), int(time.time() * 1000) + FAR_FUTURE_MS)
        time.sleep(1.5)  # longer than the classifier's gap wait (0.3 s): the jump is followed
        feed("stuck", range(40, 100), int(time.time() * 1000))
        soon(lambda: preds("stuck", 70), 8)
        out.stuck["after"] = len(preds("stuck", 40))

        # The same with the capture time now (as a replayed or buggy camera would send), three seqs far apart:
        # the jump is followed, the camera then recovers; its 'skipped' counter must stay a count of frames.
        now = int(time.time() * 1000)
        feed("skip", range(0, 40), now - 40 * 67)
        soon(lambda: preds("skip", 0), 20)
        feed("skip", [10**6, 10**9, 10**12], int(time.time() * 1000))
        time.sleep(1.5)
        feed("skip", range(40, 100), int(time.time() * 1000))
        soon(lambda: preds("skip", 70), 8)
        out.skip["after"] = len(preds("skip", 40))

        # An entry with many wide fields: its dead letter must stay small.
        wide = {f"field{i:02d}-" + "k" * 600: "v" * 600 for i in range(20)}
        wide_id = r.xadd(keys.frames(CAMERA), wide).decode()
        soon(lambda: dead_for(wide_id), 30)
        sizes = [d["payload_bytes"] for d in list(dead.letters) if d["entry_id"] == wide_id]
        out.wide_payload_bytes = max(sizes) if sizes else None

        out.field_name["keypoints"] = field_name_outcome("keypoints", keys.frames(CAMERA))
        out.field_name["classifier"] = field_name_outcome("classifier", keys.keypoints(CAMERA))

        # Last, as it leaves the classifier without a model: keypoints that are finite but absurd (float32's
        # largest value), three frames of a camera. Windows holding them overflow the healthy model to NaN;
        # the camera's later windows, without them, must be classified.
        now = int(time.time() * 1000)
        feed("huge", range(0, 40), now - 40 * 67)
        out.huge["before"] = len(preds("huge", 0)) if soon(lambda: preds("huge", 0), 20) else 0
        pipe = r.pipeline(transaction=False)
        for k, seq in enumerate(range(40, 43)):
            pipe.xadd(keys.keypoints("huge"), keypoints_entry("huge", seq, int(time.time() * 1000) + k,
                                                              np.full(1662, np.finfo(np.float32).max, np.float32)))
        pipe.execute()
        feed("huge", range(43, 103), int(time.time() * 1000) + 10)
        soon(lambda: preds("huge", 73), 8)
        out.huge["after"] = len(preds("huge", 73))  # windows without the absurd frames
        out.huge["model_rejected"] = "rejected while serving" in services["classifier"].log()

    except Exception as e:  # noted for the tests below, which then fail for their own reasons
        out.logs["fixture"] = repr(e)
    finally:
        out.exit_codes = stop_all(list(services.values()))
        dead.stop()
        for worker in r.hgetall(keys.stats("classifier")).values():  # written on stop, even by a crash
            out.skip["skipped"] = json.loads(worker)["cameras"].get("skip", {}).get("skipped")
        r.close()
    out.logs.update({n: s.log() for n, s in services.items()})
    out.seconds = time.monotonic() - started
    train = {n: (a["result"].status if a["result"] else None, a["why"][:60]) for n, a in out.train.items()}
    print(f"\nknown-bug run: {out.seconds:.0f} s; train {train}; trainer tracebacks {out.trainer_tracebacks}; "
          f"models {out.models}; stuck {out.stuck}; skip {out.skip}; huge {out.huge}; "
          f"wide payload {out.wide_payload_bytes}; field name {out.field_name}; exit {out.exit_codes}")
    return out




@pytest.mark.parametrize("trigger", sorted(TRAIN_TRIGGERS))
def test_regression_trainer_rejects_every_undecodable_request(bugs, trigger):
    answer = bugs.train[trigger]
    assert answer["result"] is not None and answer["result"].status == "rejected", answer
    assert not answer["dead"], answer


def test_regression_trainer_logs_no_traceback_for_bad_requests(bugs):
    assert bugs.trainer_tracebacks == 0, bugs.logs["trainer"][-3000:]


@pytest.mark.parametrize("trigger", ["binary_value", "deep_json"])
def test_regression_model_watch_refuses_undecodable_announcements_without_traceback(bugs, trigger):
    assert bugs.models[trigger] == {"dead": True, "tracebacks": 0}


def test_regression_far_future_capture_time_does_not_blind_a_camera(bugs):
    assert bugs.stuck.get("before", 0) >= 1
    assert bugs.stuck.get("after", 0) >= 3, bugs.stuck


def test_far_ahead_seqs_with_a_current_capture_time_do_not_blind_a_camera(bugs):
    assert bugs.skip.get("after", 0) >= 3, bugs.skip


def test_regression_skipped_counter_counts_frames_not_seq_distance(bugs):
    assert "after" in bugs.skip and 0 <= (bugs.skip.get("skipped") or 0) <= 200, bugs.skip  # absent: none skipped


def test_regression_absurd_keypoint_values_do_not_get_a_healthy_model_rejected(bugs):
    assert bugs.huge.get("before", 0) >= 1
    assert not bugs.huge.get("model_rejected", True)
    assert bugs.huge.get("after", 0) >= 3, bugs.huge


def test_a_dead_letter_of_a_wide_entry_stays_under_4kb(bugs):
    assert bugs.wide_payload_bytes is not None and bugs.wide_payload_bytes < DEAD_PAYLOAD_BYTES, bugs.wide_payload_bytes


@pytest.mark.parametrize("service", SERVICES)
def test_an_entry_whose_field_name_is_not_utf8_is_refused(bugs, service):
    """Dead for the stream consumers; for the trainer, an answer "rejected" (a request that does not decode)."""
    assert bugs.field_name[service] == {"alive": True, "refused": True}, bugs.logs[service][-3000:]
