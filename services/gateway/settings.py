"""Settings of `signstream gateway` (env prefix SIGNSTREAM_GATEWAY_)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.gateway.holistic_files import default_dir
from shared.errors import ConfigError
from shared.settings import CommonSettings


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_GATEWAY_")

    host: str = Field("127.0.0.1", description="address to listen on; any but loopback needs a token")
    port: int = Field(8080, ge=0, le=65535, description="port to listen on (0: any free port)")
    token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("token", "SIGNSTREAM_GATEWAY_TOKEN"),
        description="token every request must carry (env SIGNSTREAM_GATEWAY_TOKEN; --token-file keeps it out of "
                    "the process list)")
    token_file: Path | None = Field(None, description="file holding the token (first line)")
    cors_origin: list[str] = Field(default_factory=list,
                                   description="an origin allowed to call the API from a browser; repeat for more "
                                               "(default: none, cross-origin calls are refused)")
    client_buffer: int = Field(256, ge=1, le=100_000,
                               description="entries held for each live client; one that falls further behind is "
                                           "disconnected, counted, and resumes with its last id")
    max_clients: int = Field(1000, ge=1, le=100_000, description="live stream clients served at once")
    backfill_max: int = Field(10_000, ge=1, le=1_000_000,
                              description="most entries replayed to a client resuming from an old id")
    max_browser_cameras: int = Field(16, ge=0, le=10_000, description="browser cameras (the /camera page) "
                                     "connected at once; each sends keypoints, not frames")
    holistic_dir: Path = Field(default_factory=default_dir,
                               description="MediaPipe Holistic for browsers, which the /camera page runs "
                                           "(`signstream fetch-holistic` puts it there)")
    tls_cert: Path | None = Field(None, description="certificate (PEM) to serve HTTPS with; browsers give the "
                                  "/camera page a camera only over HTTPS or on localhost")
    tls_key: Path | None = Field(None, description="private key (PEM) of --tls-cert")
    stale_s: float = Field(15.0, gt=0, description="a camera not heard from for this long is down")
    train_data: list[str] = Field(default_factory=list,
                                  description="data the dashboard's train button asks for (paths as the trainer "
                                              "sees them); repeat for more")

    def tls_files(self) -> dict[str, str]:
        """uvicorn's ssl arguments, or none for plain HTTP; ConfigError for a half or unreadable pair."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("HTTPS needs both --tls-cert and --tls-key (SIGNSTREAM_GATEWAY_TLS_CERT, _TLS_KEY)")
        if self.tls_cert is None:
            return {}
        for flag, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key)):
            if not path.is_file():
                raise ConfigError(f"{flag} {path} is not a readable file: give a PEM file")
        import ssl

        try:  # load here, so a wrong pair is one line now rather than a traceback in uvicorn
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.tls_cert, self.tls_key)
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(f"cannot serve HTTPS with {self.tls_cert} and {self.tls_key}: {e}; give a PEM "
                              "certificate and its unencrypted private key") from None
        return {"ssl_certfile": str(self.tls_cert), "ssl_keyfile": str(self.tls_key)}

    def resolved_token(self) -> str | None:
        """The token requests must carry, or None where none is needed; ConfigError for an unsafe setup."""
        token = self.token.get_secret_value().strip() if self.token else None
        if self.token_file is not None:
            try:
                token = self.token_file.read_text().splitlines()[0].strip() if self.token_file.stat().st_size else ""
            except OSError as e:
                raise ConfigError(f"cannot read the token file {self.token_file}: {e.strerror}") from None
            if not token:
                raise ConfigError(f"the token file {self.token_file} is empty: write the token on its first line")
        if token is not None and len(token) < 16:
            raise ConfigError("the gateway token is shorter than 16 characters: use a long random one, "
                              "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if token is None and not is_loopback(self.host):
            raise ConfigError(f"listening on {self.host} shows camera frames to the network: set a token "
                              "(SIGNSTREAM_GATEWAY_TOKEN or --token-file), or listen on 127.0.0.1")
        return token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
