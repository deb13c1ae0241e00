import json

import msgpack
import numpy as np
import pytest

from shared.errors import DecodeError, MalformedMessage
from shared.messages import (
    DeadLetter,
    Detection,
    FrameMessage,
    KeypointsMessage,
    ModelAnnouncement,
    Prediction,
    TrainRequest,
    TrainResult,
    dead_payload,
)


def as_redis_reply(fields: dict) -> dict:
    """What redis-py hands a consumer: every key and value as bytes."""
    return {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in fields.items()}


def keypoints(**overrides) -> KeypointsMessage:
    kw = dict(camera="cam1", seq=7, capture_ts_ms=1_700_000_000_000, parts=("pose", "face"), worker="w1",
              processing_ms=21.5)
    kw.update(overrides)
    return KeypointsMessage.from_vector(vector=np.linspace(-1, 1, 1662), **kw)


def test_frame_message_survives_a_round_trip_through_redis_field_encoding():
    frame = FrameMessage(camera="cam1", seq=3, capture_ts_ms=123, width=640, height=480, encoding="jpeg",
                         data=b"\xff\xd8jpeg")
    assert FrameMessage.decode(as_redis_reply(frame.encode())) == frame


def test_keypoints_message_round_trip_keeps_the_vector_as_float32():
    msg = keypoints()
    back = KeypointsMessage.decode(as_redis_reply(msg.encode()))
    assert back == msg
    assert back.vector.dtype == np.float32
    np.testing.assert_array_equal(back.vector, np.linspace(-1, 1, 1662).astype(np.float32))


@pytest.mark.parametrize("message", [
    Prediction(camera="c", seq=1, ts=2, label="hello", confidence=0.93, probs={"hello": 0.93, "thanks": 0.07},
               model="v0001", latency_ms=12.5),
    Detection(camera="c", label="thanks", confidence=0.88, ts_start=10, ts_end=20, model="v0002"),
    ModelAnnouncement(version="v0003", path="/m/v0003", labels=["a", "b"], metrics={"val_accuracy": 0.9}),
    TrainRequest(data=["/data/MP_DATA"], options={"epochs": 5}, request_id="r1"),
    TrainResult(request_id="r1", status="done", version="v0004", promoted=1, metrics={"acc": 1.0}),
    DeadLetter(service="keypoints", worker="w", reason="bad", stream="frames:c", entry_id="1-0", ts=5,
               payload="{}"),
])
def test_flat_messages_round_trip_as_plain_text_fields(message):
    fields = message.encode()
    assert all(isinstance(v, str) for v in fields.values())
    assert type(message).decode(as_redis_reply(fields)) == message


def test_prediction_probs_are_json_text_any_client_can_read():
    fields = Prediction(camera="c", seq=1, ts=2, label="hello", confidence=0.5, probs={"hello": 0.5},
                        model="v1", latency_ms=1.0).encode()
    assert json.loads(fields["probs"]) == {"hello": 0.5}
    assert fields["confidence"] == "0.5"


@pytest.mark.parametrize("fields, why", [
    ({b"msg": b"\xc1\x00"}, "not msgpack"),
    ({b"other": b"x"}, "no 'msg' field"),
    ({b"msg": msgpack.packb([1, 2])}, "expected a map"),
    ({b"msg": msgpack.packb({"v": 99, "camera": "c"})}, "schema version"),
    ({b"msg": msgpack.packb({"v": 1, "camera": "c"})}, "lacks"),
    ({b"msg": msgpack.packb({"v": 1, "camera": "c", "seq": "x", "capture_ts_ms": 1, "width": 1, "height": 1,
                             "encoding": "jpeg", "data": b""})}, "expected int"),
])
def test_malformed_frame_entries_raise_one_decode_error_that_says_why(fields, why):
    with pytest.raises(DecodeError, match=why):
        FrameMessage.decode(fields)


def test_keypoints_with_a_short_vector_is_a_decode_error():
    good = msgpack.unpackb(keypoints().encode()["msg"])
    good["vector_f32"] = good["vector_f32"][:-4]
    with pytest.raises(DecodeError, match="6644 bytes"):
        KeypointsMessage.decode({b"msg": msgpack.packb(good, use_bin_type=True)})


def test_flat_message_missing_a_required_field_is_a_decode_error():
    fields = as_redis_reply(Detection(camera="c", label="l", confidence=1.0, ts_start=1, ts_end=2, model="m").encode())
    del fields[b"label"]
    with pytest.raises(DecodeError, match="label"):
        Detection.decode(fields)


def test_dead_payload_keeps_binary_fields_as_hex_so_nothing_is_lost():
    payload = json.loads(dead_payload({b"msg": b"\xff\x00", b"note": b"text"}))
    assert payload == {"msg": {"hex": "ff00"}, "note": "text"}


def test_jpeg_size_reads_the_header_without_decoding_and_refuses_what_is_not_a_jpeg():
    import cv2

    from shared.codec import jpeg_size

    data = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    assert jpeg_size(data) == (64, 48)
    png = cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    for bad in (b"", b"not an image", png, data[:20]):
        with pytest.raises(MalformedMessage, match="not a decodable image|empty"):
            jpeg_size(bad)
