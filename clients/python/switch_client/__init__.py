"""A client of the switch's /v1 HTTP API, standard library only."""
from .client import Client, Handler
from .errors import RemoteError, RpcTimeout, SwitchError, SwitchUnavailable
from .message import Message, Transfer

__all__ = ["Client", "Handler", "Message", "Transfer", "SwitchError", "SwitchUnavailable", "RpcTimeout",
           "RemoteError"]
