"""What every settings section shares: the ``Section`` base and the names of the sources."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ENV_PREFIX = "ASSISTANT_"
CONFIG_FILE_ENV = "ASSISTANT_CONFIG"
DEFAULT_CONFIG_FILE = "assistant.toml"


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
