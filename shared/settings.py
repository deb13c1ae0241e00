"""Settings shared by every service, and the one way a service turns env + flags into settings.

Each service subclasses `CommonSettings` with its own env prefix (SIGNSTREAM_CAPTURE_ ...).
Flags win over environment variables, which win over defaults; a wrong value becomes one
`ConfigError` line naming the flag and the variable, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, CliApp, SettingsConfigDict, SettingsError

from shared.errors import ConfigError
from shared.keys import Keys


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_exit_on_error=False,
        populate_by_name=True,
    )

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("redis_url", "REDIS_URL"),
        description="Redis to talk to (env REDIS_URL)",
    )
    namespace: str = Field(
        "",
        validation_alias=AliasChoices("namespace", "SIGNSTREAM_NAMESPACE"),
        description="prefix for every Redis key, to share one Redis (env SIGNSTREAM_NAMESPACE)",
    )
    log_level: str = Field(
        "INFO",
        validation_alias=AliasChoices("log_level", "SIGNSTREAM_LOG_LEVEL"),
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
        description="DEBUG, INFO, WARNING or ERROR (env SIGNSTREAM_LOG_LEVEL)",
    )
    frames_maxlen: int = Field(
        600,
        gt=0,
        validation_alias=AliasChoices("frames_maxlen", "SIGNSTREAM_FRAMES_MAXLEN"),
        description="approximate length each frames:<camera> stream is trimmed to",
    )
    stream_maxlen: int = Field(
        10000,
        gt=0,
        validation_alias=AliasChoices("stream_maxlen", "SIGNSTREAM_STREAM_MAXLEN"),
        description="approximate length every other stream is trimmed to",
    )

    @property
    def keys(self) -> Keys:
        return Keys(self.namespace)


S = TypeVar("S", bound=BaseSettings)


def _where(settings_cls: type[BaseSettings], loc: tuple) -> str:
    name = str(loc[0]) if loc else "?"
    field = settings_cls.model_fields.get(name)
    flag = "--" + name.replace("_", "-")
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        env = [a for a in field.validation_alias.choices if isinstance(a, str) and a.isupper()]
        if env:
            return f"{flag} (env {env[0]})"
    prefix = settings_cls.model_config.get("env_prefix", "")
    return f"{flag} (env {prefix}{name.upper()})"


def load_settings(settings_cls: type[S], argv: Sequence[str], prog: str) -> S:
    """Build settings from flags and environment; raise ConfigError with one line per problem."""
    settings_cls.model_config["cli_prog_name"] = prog
    try:
        return CliApp.run(settings_cls, cli_args=list(argv))
    except ValidationError as e:
        problems = "; ".join(f"{_where(settings_cls, err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid settings: {problems}. See `{prog} --help`.") from None
    except SettingsError as e:
        raise ConfigError(f"{e}. See `{prog} --help`.") from None
