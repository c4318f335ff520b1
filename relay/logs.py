"""Keep secrets out of logs: the tokens in fans' preference links."""

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

# `/u/<token>`: a signed link that opens (and unsubscribes) a fan's preferences.
_LINK_TOKEN = re.compile(r"(/u/)[^/?#\s]+")


def hide_link_tokens(text: str) -> str:
    return _LINK_TOKEN.sub(r"\1…", text)


class HideLinkTokens(logging.Filter):
    """Masks `/u/<token>` in uvicorn's access log lines (the request path is an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                hide_link_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the access log's link tokens masked."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"hide_link_tokens": {"()": HideLinkTokens}}
    config["handlers"]["access"]["filters"] = ["hide_link_tokens"]
    return config
