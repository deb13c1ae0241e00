"""One exception tree for signstream, and the exit codes a supervisor can tell apart.

Exit codes of every `signstream` command:

- 0 (EXIT_OK): a clean stop (SIGTERM, Ctrl-C, a file that ended, a one-shot job done).
- 1 (EXIT_ERROR): an unexpected error (a bug: its traceback is printed), or a job that ran but
  failed (a training not promoted).
- 2 (EXIT_CONFIG): bad configuration or input (a flag, a variable, a path, a data set, a model);
  the one error line says what to change. Restarting does not help.
- 3 (EXIT_CONNECT): Redis refused our credentials (wrong or missing password, a user without the
  permissions signstream needs): restarting does not help either, the fix is in REDIS_URL or in
  Redis's ACL. For one-shot commands (`signstream stats`) also: Redis unreachable. Long-running
  services never exit on an unreachable Redis; they wait for it with backoff and say so in their log.
"""

from __future__ import annotations

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


class RedisConnectError(SignstreamError):
    """We cannot use Redis, and waiting will not change it: exit code 3. The message never holds a password.

    Deliberately not a ConnectionError: loops that wait out outages (`except CONNECTION_ERRORS`)
    let it through.
    """


class RedisAuthError(RedisConnectError):
    """Redis refused our credentials (WRONGPASS, NOAUTH) or a command to our user (NOPERM)."""


class RedisUnreachable(RedisConnectError):
    """Redis did not answer; raised only by one-shot commands, which have nothing to wait for."""
