"""One exception tree for signstream, and the exit codes a supervisor can tell apart."""

from __future__ import annotations

# Exit codes: 0 clean stop, 1 unexpected error, 2 bad configuration or input, 3 Redis unreachable.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_CONNECT = 3


class SignstreamError(Exception):
    """Base of every error signstream raises on purpose."""


class ConfigError(SignstreamError):
    """A setting, flag or input path is wrong; the message says what to change."""


class SourceError(SignstreamError):
    """A camera source could not be opened or stopped delivering frames."""


class DecodeError(SignstreamError):
    """A stream entry could not be decoded into its message class."""


class MalformedMessage(SignstreamError):
    """A decoded message cannot be processed (bad image, wrong vector size); it goes to `dead`."""


class DataError(SignstreamError):
    """A data set on disk is missing, empty or not in the expected layout."""


class ModelError(SignstreamError):
    """A model file is missing, corrupt or does not fit the keypoint contract."""
