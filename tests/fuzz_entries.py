"""Seeded malformed and near-valid entries for every stream the services read (tests/test_fuzz.py).

Each generator is a `random.Random` plus a little context and returns `(kind, fields)` for one
XADD: `kind` names what was wrong with the entry (for the report), `fields` is what goes on the
stream. Near-valid entries are built with the real message classes (`FrameMessage`,
`KeypointsMessage`, `FrameGap`), whose constructors validate; invalid envelopes are packed by hand
with msgpack, since no constructor would build them.

Entries are made one at a time, at the moment they are published, so that a capture time "now"
is really now.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import msgpack
import numpy as np

from shared.messages import FrameGap, FrameMessage, KeypointsMessage

BIG = 5 * 1024 * 1024  # a "5 MB binary value"
VECTOR_SIZE = 1662
Fields = dict  # field name (str or bytes) -> value (str or bytes)


def now_ms() -> int:
    return int(time.time() * 1000)


def packb(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def envelope(body: dict, name: str = "msg") -> Fields:
    return {name: packb(body)}


def not_msgpack(rng: random.Random) -> bytes:
    # 0xc1 is the one byte msgpack never uses: whatever follows, this is not msgpack.
    return b"\xc1" + rng.randbytes(rng.randint(0, 80))


def junk_text(rng: random.Random, n: int) -> str:
    """`n` characters of text: control characters, NUL, quotes, accents, CJK, emoji (UTF-8, unlike random bytes)."""
    alphabet = "\x00\x01\t\n\"'\\{}[]:,aé中😀 "
    if n > 10000:
        return (alphabet * (n // len(alphabet) + 1))[:n]
    return "".join(rng.choice(alphabet) for _ in range(n))


def binary_names(rng: random.Random) -> Fields:
    """One to three fields whose names are not UTF-8."""
    return {b"\xff\xfe" + rng.randbytes(rng.randint(0, 12)): rng.choice([b"1", b"\xff", "x" * 100])
            for _ in range(rng.randint(1, 3))}


def msgpack_non_map(rng: random.Random) -> bytes:
    return packb(rng.choice([[1, 2, 3], 7, -1, 2**64 - 1, "frame", None, True, 1.5, b"bin", [{"v": 1}], []]))


def deep_nesting(rng: random.Random) -> bytes:
    return b"\x91" * rng.randint(600, 5000) + b"\xc0"  # [[[[...nil...]]]] thousands deep


CAMERA_JUNK = ["c" * 10240, "cam/0", "cam 0", "cámara", "相机", "cam😀", "", "../cam", "cam\n", "a" * 65, None, 5,
               ["cam"], {"cam": 1}, b"cam"]
SEQ_JUNK = ["5", -1, -2**63, 2**62, 2**64 - 1, 2**53, 5.5, None, True, [1], {"seq": 1}, b"\x05"]
TS_JUNK = [0, -1, -2**63, 2**62, 2**64 - 1, "now", 1.7e12, None, True, [1]]
SIDE_JUNK = [2**62, 2**64 - 1, -5, 0, 16385, "480", 480.0, None, True, [480]]
TEXT_JUNK = [None, 5, 1.5, True, b"jpeg", ["jpeg"], {"a": 1}, "x" * 10000]
NESTED = {"a": {"b": {"c": [1, {"d": [2, 3, {"e": "f"}]}]}}, "g": [[[]]]}


def odd_images() -> dict[str, bytes]:
    """Real JPEGs of awkward shapes: 1x1, a 2-pixel-wide strip, a long thin line, grey."""
    rng = np.random.default_rng(0)
    out = {}
    for name, (h, w) in {"1x1": (1, 1), "2x300": (300, 2), "300x2": (2, 300), "8x4000": (8, 4000),
                         "16x16": (16, 16)}.items():
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out[name] = cv2.imencode(".jpg", image)[1].tobytes()
    grey = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    out["grey"] = cv2.imencode(".jpg", grey)[1].tobytes()
    return out


def image_size(data: bytes) -> tuple[int, int]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return image.shape[1], image.shape[0]


class Fuzzer:
    """Draws a kind of entry by weight and makes it.

    Kinds with a cap (`limits`: the 5 MB values, slow model loads) are not drawn: they come first, as
    entry 5, 15, 25, ... until used up, so what they cost a service is paid early, and memory
    watched over the rest of the run shows a leak as a climb rather than as their one-off step.
    """

    rng: random.Random
    kinds: list[tuple[str, Callable[[], Fields], float]]
    limits: dict[str, int]
    calls: int = 0

    def __call__(self) -> tuple[str, Fields]:
        self.calls += 1
        capped = [k for k in self.kinds if self.limits.get(k[0], 0) > 0]
        if capped and self.calls % 10 == 5:
            name, make, _ = capped[self.calls // 10 % len(capped)]
            self.limits[name] -= 1
        else:
            drawn = [k for k in self.kinds if k[0] not in self.limits]
            name, make, _ = self.rng.choices(drawn, weights=[w for _, _, w in drawn])[0]
        return name, make()


@dataclass
class SeqSource:
    """Seqs for near-valid entries: around the real camera's numbering, far ahead, or small."""

    base: int
    far: list[int] = field(default_factory=lambda: [2**53 - 1, 2**53 - 2, 10**12, 10**15 + 7, 2**40])

    def __call__(self, rng: random.Random) -> int:
        family = rng.random()
        if family < 0.4:
            return self.base + rng.randint(-40, 200)
        if family < 0.8:
            return rng.choice(self.far) - rng.randint(0, 5)
        return rng.randint(0, 50)


class EnvelopeFuzzer(Fuzzer):
    """A fuzzer of msgpack envelopes (`frames:*`, `keypoints:*`): what breaks any envelope, whatever it carries."""

    def body(self, **changes) -> dict:
        raise NotImplementedError

    def envelope_junk(self) -> list[tuple[str, Callable[[], Fields], float]]:
        return [
            ("not_msgpack", lambda: {"msg": not_msgpack(self.rng)}, 3),
            ("random_bytes", lambda: {"msg": self.rng.randbytes(self.rng.randint(0, 300))}, 2),
            ("msgpack_non_map", lambda: {"msg": msgpack_non_map(self.rng)}, 2),
            ("deep_nesting", lambda: {"msg": deep_nesting(self.rng)}, 1),
            ("nested_maps", lambda: envelope(self.body(**{self.rng.choice(list(self.body())): NESTED})), 2),
            ("missing_field", self.missing_field, 3),
        ]

    def missing_field(self) -> Fields:
        body = self.body()
        del body[self.rng.choice(list(body))]
        return envelope(body)


class FrameFuzzer(EnvelopeFuzzer):
    """Entries for `frames:<camera>`."""

    def __init__(self, rng: random.Random, camera: str, jpeg: bytes, seqs: SeqSource, big: int = 4):
        self.rng = rng
        self.camera = camera
        self.jpeg = jpeg
        self.width, self.height = image_size(jpeg)
        self.seqs = seqs
        self.odd = odd_images()
        # Above the keypoint workers' 4K pixel limit: refused from its header, never decoded.
        self.huge = cv2.imencode(".jpg", np.full((3000, 6000, 3), 90, np.uint8))[1].tobytes()
        self.limits = {"big_value": big}
        self.kinds: list[tuple[str, Callable[[], Fields], float]] = [
            *self.envelope_junk(),
            ("bad_version", lambda: envelope(self.body(v=self.rng.choice(
                [0, 2, 99, "1", None, -1, 2**64 - 1, "v1"]))), 2),
            ("bad_seq", lambda: envelope(self.body(seq=self.rng.choice(SEQ_JUNK))), 3),
            ("bad_size", self.bad_size, 3),
            ("bad_capture_ts", lambda: envelope(self.body(capture_ts_ms=self.rng.choice(TS_JUNK))), 2),
            ("bad_data", lambda: envelope(self.body(data=self.rng.choice(
                ["jpeg", None, 5, [1, 2], {"a": 1}, True]))), 2),
            ("bad_encoding", lambda: envelope(self.body(encoding=self.rng.choice(TEXT_JUNK + ["png", ""]))), 2),
            ("bad_camera", lambda: envelope(self.body(camera=self.rng.choice(CAMERA_JUNK))), 3),
            ("other_camera", lambda: self.frame(camera=self.rng.choice(["other", "cam1", self.camera + "x"])), 2),
            ("empty_jpeg", lambda: self.frame(data=b""), 2),
            ("random_bytes_as_jpeg", lambda: self.frame(data=self.rng.randbytes(self.rng.randint(1, 20000))), 3),
            ("truncated_jpeg", lambda: self.frame(data=self.jpeg[: self.rng.randint(2, len(self.jpeg) - 1)]), 2),
            ("jpeg_header_then_garbage", lambda: self.frame(data=self.jpeg[:600] + self.rng.randbytes(3000)), 2),
            ("size_disagrees", self.size_disagrees, 3),
            ("odd_image", self.odd_image, 1.5),
            ("png_labelled_jpeg", self.png_labelled_jpeg, 0.5),
            ("over_pixel_limit", lambda: self.frame(data=self.huge, width=6000, height=3000), 0.5),
            ("extra_envelope_keys",
             lambda: envelope({**self.body(), "extra": NESTED, "zz": self.rng.randbytes(40)}), 1),
            ("extra_entry_fields", lambda: {**self.frame(), "note": "hello", "junk": self.rng.randbytes(100),
                                            "n": str(self.rng.randint(0, 10**9))}, 1),
            ("no_msg_field", lambda: {"frame": self.frame()["msg"], "camera": self.camera}, 2),
            ("field_name_not_utf8", lambda: {**self.rng.choice([{}, self.frame()]), **binary_names(self.rng)}, 2),
            ("empty_msg", lambda: {"msg": b""}, 1),
            ("msg_as_text", lambda: {"msg": "hello, I am not msgpack"}, 1),
            ("far_future_seq", lambda: self.frame(seq=self.rng.choice(self.seqs.far)), 1),
            ("negative_seq", lambda: envelope(self.body(seq=-self.rng.randint(1, 2**62))), 2),
            ("too_old", lambda: self.frame(capture_ts_ms=now_ms() - self.rng.randint(200_000, 10**9)), 2),
            ("near_valid", lambda: self.frame(), 1),
            ("big_value", self.big_value, 0.4),
        ]

    def body(self, **changes) -> dict:
        body = dict(v=1, camera=self.camera, seq=self.seqs(self.rng), capture_ts_ms=now_ms(), width=self.width,
                    height=self.height, encoding="jpeg", data=self.jpeg)
        body.update(changes)
        return body

    def frame(self, **changes) -> Fields:
        """A valid FrameMessage (its constructor checks every field), encoded as capture does."""
        body = self.body(**changes)
        body.pop("v")
        return FrameMessage(**body).encode()

    def bad_size(self) -> Fields:
        side = self.rng.choice(["width", "height", "both"])
        value = self.rng.choice(SIDE_JUNK)
        changes = {"width": value, "height": value} if side == "both" else {side: value}
        return envelope(self.body(**changes))

    def size_disagrees(self) -> Fields:
        w, h = self.rng.choice([(self.width + 1, self.height), (self.height + 3, self.width), (1, 1), (16384, 16384),
                                (self.width, self.height - 7)])  # each differs from the image, square or not
        return self.frame(width=w, height=h)

    def odd_image(self) -> Fields:
        name = self.rng.choice(sorted(self.odd))
        w, h = image_size(self.odd[name])
        return self.frame(data=self.odd[name], width=w, height=h)

    def png_labelled_jpeg(self) -> Fields:
        png = cv2.imencode(".png", np.full((90, 120, 3), self.rng.randrange(256), np.uint8))[1].tobytes()
        return self.frame(data=png, width=120, height=90)

    def big_value(self) -> Fields:
        where = self.limits["big_value"] % 3
        if where == 0:
            return {"msg": self.rng.randbytes(BIG)}
        if where == 1:
            return self.frame(data=self.rng.randbytes(BIG))  # 5 MB labelled jpeg, a valid header
        return {**self.frame(), "attachment": self.rng.randbytes(BIG)}



class KeypointFuzzer(EnvelopeFuzzer):
    """Entries for `keypoints:<camera>`: keypoint envelopes and gap envelopes."""

    def __init__(self, rng: random.Random, camera: str, vectors: list[np.ndarray], seqs: SeqSource, big: int = 4):
        self.rng = rng
        self.camera = camera
        self.vectors = vectors
        self.seqs = seqs
        self.limits = {"big_value": big}
        self.kinds: list[tuple[str, Callable[[], Fields], float]] = [
            *self.envelope_junk(),
            ("bad_version", lambda: envelope(self.body(v=self.rng.choice([0, 2, 99, "1", None, -1, 2**64 - 1]))), 2),
            ("bad_seq", lambda: envelope(self.body(seq=self.rng.choice(SEQ_JUNK))), 3),
            ("bad_capture_ts", lambda: envelope(self.body(capture_ts_ms=self.rng.choice(TS_JUNK))), 2),
            ("bad_camera", lambda: envelope(self.body(camera=self.rng.choice(CAMERA_JUNK))), 3),
            ("other_camera", lambda: self.keypoints(camera=self.rng.choice(["other", "cam1", self.camera + "x"])), 2),
            ("vector_wrong_length", self.wrong_length, 3),
            ("vector_wrong_type", lambda: envelope(self.body(vector_f32=self.rng.choice(
                [None, 5, "floats", [0.5] * 1662, {"x": 1}, True]))), 2),
            ("vector_nan_inf", self.nan_inf, 3),
            ("bad_parts", lambda: envelope(self.body(parts=self.rng.choice(
                [5, "pose", ["hand"], [None], ["pose", 3], [["pose"]], {"pose": 1}, ["x" * 10000], None]))), 2),
            ("bad_worker", lambda: envelope(self.body(worker=self.rng.choice(TEXT_JUNK))), 2),
            ("bad_processing_ms", lambda: envelope(self.body(processing_ms=self.rng.choice(
                ["fast", None, [1], {"ms": 1}, b"\x01"]))), 2),
            ("bad_gap", self.bad_gap, 3),
            ("gap_other_camera", lambda: FrameGap(camera="other", seq=self.seqs(self.rng), capture_ts_ms=now_ms(),
                                                  reason="behind", worker="w").encode(), 1),
            ("gap_and_msg", lambda: {**self.keypoints(), **self.gap()}, 1),
            ("extra_envelope_keys",
             lambda: envelope({**self.body(), "extra": NESTED, "zz": self.rng.randbytes(40)}), 2),
            ("extra_entry_fields", lambda: {**self.keypoints(), "note": "hello", "junk": self.rng.randbytes(100)}, 2),
            ("no_msg_field", lambda: {"keypoints": self.keypoints()["msg"], "camera": self.camera}, 2),
            ("field_name_not_utf8", lambda: {**self.rng.choice([{}, self.keypoints()]), **binary_names(self.rng)}, 2),
            ("empty_msg", lambda: {"msg": b""}, 1),
            ("msg_as_text", lambda: {"msg": "hello, I am not msgpack"}, 1),
            ("far_future_seq", lambda: self.keypoints(seq=self.rng.choice(self.seqs.far)), 6),
            ("far_future_gap", lambda: self.gap(seq=self.rng.choice(self.seqs.far)), 2),
            ("negative_seq", lambda: envelope(self.body(seq=-self.rng.randint(1, 2**62))), 2),
            ("stale", lambda: self.keypoints(capture_ts_ms=now_ms() - self.rng.randint(200_000, 10**9)), 2),
            ("near_valid", lambda: self.keypoints(), 3),
            ("near_valid_gap", lambda: self.gap(), 1),
            ("big_value", self.big_value, 0.4),
        ]

    def vector(self) -> np.ndarray:
        return self.rng.choice(self.vectors)

    def body(self, **changes) -> dict:
        body = dict(v=1, camera=self.camera, seq=self.seqs(self.rng), capture_ts_ms=now_ms(),
                    vector_f32=self.vector().astype("<f4").tobytes(), parts=["pose", "face"], worker="fuzz",
                    processing_ms=12.5)
        body.update(changes)
        return body

    def keypoints(self, **changes) -> Fields:
        body = self.body(**changes)
        body.pop("v")
        body["parts"] = tuple(body["parts"])
        return KeypointsMessage(**body).encode()

    def gap(self, **changes) -> Fields:
        kw = dict(camera=self.camera, seq=self.seqs(self.rng), capture_ts_ms=now_ms(), reason="behind", worker="fuzz")
        kw.update(changes)
        return FrameGap(**kw).encode()

    def wrong_length(self) -> Fields:
        n = self.rng.choice([0, 1, 4, 1661 * 4, 1663 * 4, 1662 * 4 - 1, 1662 * 4 + 1, 1662 * 8, 258 * 4])
        return envelope(self.body(vector_f32=self.rng.randbytes(n)))

    def nan_inf(self) -> Fields:
        v = self.vector().astype("<f4").copy()
        for _ in range(self.rng.randint(1, 5)):
            v[self.rng.randrange(VECTOR_SIZE)] = self.rng.choice([np.nan, np.inf, -np.inf])
        return envelope(self.body(vector_f32=v.tobytes()))

    def bad_gap(self) -> Fields:
        body = dict(v=1, camera=self.camera, seq=self.seqs(self.rng), capture_ts_ms=now_ms(), reason="behind",
                    worker="fuzz")
        what = self.rng.choice(["seq", "camera", "reason", "version", "missing", "not_msgpack", "ts"])
        if what == "seq":
            body["seq"] = self.rng.choice(SEQ_JUNK)
        elif what == "camera":
            body["camera"] = self.rng.choice(CAMERA_JUNK)
        elif what == "reason":
            body["reason"] = self.rng.choice(TEXT_JUNK)
        elif what == "version":
            body["v"] = 7
        elif what == "ts":
            body["capture_ts_ms"] = self.rng.choice(TS_JUNK)
        elif what == "missing":
            del body[self.rng.choice(list(body))]
        else:
            return {"gap": not_msgpack(self.rng)}
        return envelope(body, "gap")

    def png_labelled_jpeg(self) -> Fields:
        png = cv2.imencode(".png", np.full((90, 120, 3), self.rng.randrange(256), np.uint8))[1].tobytes()
        return self.frame(data=png, width=120, height=90)

    def big_value(self) -> Fields:
        where = self.limits["big_value"] % 3
        if where == 0:
            return {"msg": self.rng.randbytes(BIG)}
        if where == 1:
            return envelope(self.body(vector_f32=self.rng.randbytes(BIG)))
        return {**self.keypoints(), "attachment": self.rng.randbytes(BIG)}



class ModelFuzzer(Fuzzer):
    """Bad announcements for `models`: every one must be refused, none may swap in."""

    def __init__(self, rng: random.Random, good: Path, junk_dir: Path, heavy: int = 4, big: int = 2):
        self.rng = rng
        self.good = Path(good)
        self.junk = Path(junk_dir)
        # "heavy": announcements that get as far as loading a keras file (a second or so each)
        self.limits = {"heavy": heavy, "big_value": big}
        self._prepare()
        labels = json.dumps(["hello", "thanks", "iloveyou"])
        long_path = "/tmp/" + "/".join("d" * 99 for _ in range(50))  # 5,000 characters
        self.kinds: list[tuple[str, Callable[[], Fields], float]] = [
            ("missing_fields", self.missing_fields, 3),
            ("long_path", lambda: {"version": "v9", "path": long_path[: self.rng.choice([5000, 4097, 4096])],
                                   "labels": labels}, 2),
            ("long_component", lambda: {"version": "v9", "path": "/tmp/" + "x" * 5000, "labels": labels}, 1),
            ("missing_dir", lambda: {"version": f"v{self.rng.randint(2, 10**6)}",
                                     "path": str(self.junk / f"nope{self.rng.randint(0, 10**9)}"),
                                     "labels": labels}, 3),
            ("path_is_file", lambda: {"version": "v9", "path": str(self.good / "labels.json"), "labels": labels}, 1),
            ("path_odd", lambda: {"version": "v9", "labels": labels, "path": self.rng.choice(
                ["", "/dev/null", "/proc/self", "a\x00b", " ", "~", "models/../../../etc", "/"])}, 2),
            ("dir_without_model", lambda: {"version": "v9", "path": str(self.junk), "labels": labels}, 1),
            ("labels_garbage", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": self.rng.choice(
                ["[", "{", "not json", "5", '"hello"', "null", "[1, 2]", "", "[" * 500, '{"labels": [}'])}, 3),
            ("metrics_garbage", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": labels,
                                         "metrics": self.rng.choice(
                                             ["[", "5", "null", "{\"a\": NaN}", "x" * 10000])}, 2),
            ("bad_version", lambda: {"path": str(self.good), "labels": labels, "version": self.rng.choice(
                ["", "../../etc", "v" * 5000, "v 1", "v/1", "vé", ".", "..", "v1\n"])}, 2),
            ("extra_fields", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": labels,
                                      "note": "hi", "junk": junk_text(self.rng, 50)}, 2),
            ("binary_values", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": labels,
                                       self.rng.choice(["version", "path", "labels", "metrics", "junk"]):
                                       b"\xff\xfe" + self.rng.randbytes(self.rng.randint(0, 60))}, 2),
            ("field_name_not_utf8", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": labels,
                                             **binary_names(self.rng)}, 2),
            ("heavy", self.heavy, 1),
            ("big_value", lambda: {"version": "v9", "path": str(self.junk / "nope"), "labels": labels,
                                   "blob": self.rng.choice([junk_text(self.rng, BIG), self.rng.randbytes(BIG)])}, 1),
        ]

    def _prepare(self) -> None:
        """Version directories that get far into loading: labels unreadable, model file junk, wrong label count."""
        import shutil

        for name, labels, model in [("bad_labels", "not json", True), ("junk_model", None, False),
                                    ("five_labels", json.dumps(["a", "b", "c", "d", "e"]), True)]:
            d = self.junk / name
            d.mkdir(parents=True, exist_ok=True)
            if model:
                shutil.copy(self.good / "model.keras", d / "model.keras")
            else:
                (d / "model.keras").write_bytes(b"PK\x03\x04 this is no keras file" * 10)
                labels = (self.good / "labels.json").read_text()
            (d / "labels.json").write_text(labels)

    def missing_fields(self) -> Fields:
        full = {"version": "v9", "path": str(self.junk / "nope"), "labels": '["a", "b"]', "metrics": "{}"}
        keep = self.rng.sample(sorted(full), self.rng.randint(0, 2))
        return {k: full[k] for k in keep} or {"something": "else"}

    def heavy(self) -> Fields:
        name = ["bad_labels", "junk_model", "five_labels"][self.limits["heavy"] % 3]
        return {"version": f"{name}-v", "path": str(self.junk / name), "labels": '["a"]'}



class TrainFuzzer(Fuzzer):
    """Bad requests for `train:requests`: every one must be answered "rejected", none may train."""

    def __init__(self, rng: random.Random, junk_dir: Path, big: int = 2):
        self.rng = rng
        self.junk = str(junk_dir)
        self.n = 0
        self.limits = {"big_value": big}
        absent = json.dumps([f"{self.junk}/no-such-data"])
        self.kinds: list[tuple[str, Callable[[], Fields], float]] = [
            ("data_garbage_json", lambda: {"data": self.rng.choice(["[", "not json", "", "{]", "[\"a\",", "[" * 500]),
                                           "options": "{}"}, 3),
            ("data_not_list", lambda: {"data": self.rng.choice(['"abc"', '{"a": 1}', '""', "[]"])}, 2),
            ("data_paths_absent", lambda: {"data": json.dumps([f"{self.junk}/x{self.rng.randint(0, 10**9)}",
                                                               "/nonexistent/MP_DATA"])}, 2),
            ("data_paths_odd", lambda: {"data": json.dumps([self.rng.choice(
                ["/dev/null", "/proc/self/status", self.junk, "a\x00b", "~", "relative/nowhere"])])}, 2),
            ("options_garbage_json",
             lambda: {"data": absent, "options": self.rng.choice(["{", "nope", "{\"a\":}", ""])}, 2),
            ("options_not_object",
             lambda: {"data": absent, "options": self.rng.choice(['"abc"', "[1, 2]", '["x", "y"]'])}, 2),
            ("options_unknown", lambda: {"data": absent, "options": json.dumps(
                {self.rng.choice(["models_dir", "redis_url", "namespace", "x" * 5000, ""]): "/"})}, 2),
            ("options_absurd", lambda: {"data": absent, "options": json.dumps(self.rng.choice([
                {"epochs": 10**12}, {"epochs": -1}, {"epochs": 0}, {"batch_size": 0}, {"batch_size": 10**9},
                {"learning_rate": 1e9}, {"learning_rate": -1}, {"val_fraction": 5}, {"arch": "x" * 5000},
                {"actions": "notalist"}, {"actions": [[1]]}, {"seed": 10**40}, {"min_accuracy": 7},
                {"epochs": "many"}, {"patience": -3}, {"normalise": "perhaps"}, {"recipe": {"a": 1}},
            ]))}, 3),
            ("options_nan", lambda: {"data": absent, "options": '{"learning_rate": NaN, "val_fraction": Infinity}'}, 1),
            ("missing_data", lambda: {"options": "{}", "request_id": "x"}, 2),
            ("empty_entry_ish", lambda: {"nothing": ""}, 1),
            ("extra_fields", lambda: {"data": absent, "note": "hi", "junk": junk_text(self.rng, 64)}, 1),
            ("binary_values", lambda: {"data": absent, "options": "{}", self.rng.choice(["data", "options", "junk"]):
                                       b"\xff\xfe" + self.rng.randbytes(self.rng.randint(0, 60))}, 2),
            ("field_name_not_utf8", lambda: {"data": absent, **binary_names(self.rng)}, 2),
            ("long_request_id", lambda: {"data": absent, "request_id": "r" * 10000}, 1),
            ("big_value", lambda: {"data": absent, "blob": self.rng.choice([junk_text(self.rng, BIG),
                                                                              self.rng.randbytes(BIG)])}, 1),
        ]

    def __call__(self) -> tuple[str, Fields]:
        name, fields = super().__call__()
        if "request_id" not in fields and self.rng.random() < 0.7:
            self.n += 1
            fields["request_id"] = f"fuzz-{self.n}"
        return name, fields
