import pytest

from shared.errors import ConfigError
from shared.keys import CAMERA_ID, Keys, camera_id_for, unique_camera_id
from shared.settings import CommonSettings, load_settings


def test_namespace_prefixes_every_key():
    keys = Keys("site2:")
    assert keys.frames("door") == "site2:frames:door"
    assert keys.keypoints("door") == "site2:keypoints:door"
    assert keys.predictions == "site2:predictions"
    assert keys.train_requests == "site2:train:requests"
    assert keys.camera_of("site2:frames:door", "frames:") == "door"


def test_flags_override_environment_which_overrides_defaults(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://env:1/0")
    monkeypatch.setenv("SIGNSTREAM_NAMESPACE", "fromenv:")
    settings = load_settings(CommonSettings, ["--namespace", "fromflag:"], "prog")
    assert settings.redis_url == "redis://env:1/0"
    assert settings.namespace == "fromflag:"
    assert settings.keys.dead == "fromflag:dead"


def test_an_invalid_value_is_one_line_naming_the_flag_and_the_variable():
    with pytest.raises(ConfigError) as caught:
        load_settings(CommonSettings, ["--frames-maxlen", "0"], "signstream x")
    message = str(caught.value)
    assert "\n" not in message
    assert "--frames-maxlen" in message and "SIGNSTREAM_FRAMES_MAXLEN" in message
    assert "signstream x --help" in message


def test_an_unknown_flag_is_a_config_error():
    with pytest.raises(ConfigError, match="unrecognized arguments: --nope"):
        load_settings(CommonSettings, ["--nope", "1"], "prog")


@pytest.mark.parametrize("source, camera", [
    ("0", "cam0"),
    ("/dev/video0", "video0"),
    ("../shared/videos/kiri_hello.mp4", "kiri_hello"),
    ("clip.v2.mp4", "clip.v2"),
    ("frames/", "frames"),
    ("rtsp://user:secret@192.0.2.10:554/stream1", "192.0.2.10-554"),
    ("http://cam.example/mjpeg", "cam.example"),
    ("café à la carte.mp4", "caf----la-carte"),
    ("x" * 80 + ".mp4", "x" * 64),
])
def test_one_rule_names_a_camera_after_its_source(source, camera):
    assert camera_id_for(source) == camera and CAMERA_ID.match(camera)
    # up and capture both use it: a camera started by either is the same camera
    from services.capture.settings import CaptureSettings

    assert CaptureSettings(source=source).camera == camera


def test_two_sources_of_one_name_get_two_ids_that_still_fit():
    taken: set[str] = set()
    ids = [unique_camera_id(s, taken) for s in ("a/door.mp4", "b/door.mp4", "c/door.mp4", "y" * 80 + ".mp4")]
    assert ids == ["door", "door-2", "door-3", "y" * 56]
    assert unique_camera_id("z/" + "y" * 80 + ".mp4", taken) == "y" * 56 + "-2"
    assert all(CAMERA_ID.match(i) for i in taken)
