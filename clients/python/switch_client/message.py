"""Messages and transfer answers as the switch sends them (openapi.yaml's Message and TransferResponse)."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    id: int
    queue: str
    payload: bytes
    origin: str
    time: int
    correlation_id: str | None = None
    reply_to: str | None = None
    error: bool = False
    topic: str | None = None
    retained: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        # The switch sends a payload as UTF-8 text, or in base64 when it is not valid UTF-8.
        if data.get("encoding") == "base64":
            payload = base64.b64decode(data["payload"])
        else:
            payload = data["payload"].encode("utf-8")
        return cls(id=data["id"], queue=data["queue"], payload=payload, origin=data["origin"], time=data["time"],
                   correlation_id=data.get("correlationId"), reply_to=data.get("replyTo"),
                   error=data.get("error", False), topic=data.get("topic"), retained=data.get("retained", False))


@dataclass(frozen=True)
class Transfer:
    """A transfer's messages and the cursor to pass as ``after`` next time."""
    messages: list[Message]
    next: int
