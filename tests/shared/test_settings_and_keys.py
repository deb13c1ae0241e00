import pytest

from shared.errors import ConfigError
from shared.keys import Keys
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
