"""The client: a session kept alive by its requests, the /v1 operations, rpc and serve."""
from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .errors import RemoteError, RpcTimeout, SwitchError, SwitchUnavailable
from .message import Message, Transfer

Body = bytes | str
Handler = Callable[[bytes], Body]
"""Answers one request's payload with the reply's payload; an exception becomes an error reply."""

RETRY_FOR = 10.0
"""Seconds a request keeps retrying while the switch cannot be reached (not up yet, restarting)."""
SERVE_POLL = 1.0
"""Seconds serve's long-poll waits: how long a stop may take to be noticed."""
RPC_POLL = 5.0
"""Seconds rpc's long-poll waits before it checks its deadline and its session again."""
ANSWER_GRACE = 10.0
"""Seconds an answer may take beyond a long-poll's wait before the connection is deemed dead."""


def _name(name: str) -> str:
    # Queue names and topics contain `/`, filters `+` and `#`: every reserved character is encoded.
    return quote(name, safe="")


def _bytes(body: Body) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class Client:
    """A client of one switch, usable from several threads. It logs in on first use, logs in again once when
    the switch has forgotten its session (expired, or the switch restarted), restoring its subscriptions, and
    retries a request for up to ``retry_for`` seconds while the switch cannot be reached.

    Use it as a context manager: leaving it logs out, and the session's temporary queues go with it."""

    def __init__(self, url: str, client: str = "python", *, principal: str | None = None,
                 secret: str | None = None, api_key: str | None = None, retry_for: float = RETRY_FOR) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self.client = client
        self.retry_for = retry_for
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._credentials = {key: value for key, value in
                             (("principal", principal), ("secret", secret), ("apiKey", api_key)) if value is not None}
        # One keep-alive connection per thread: http.client connections are not shared safely.
        self._local = threading.local()
        self._session_lock = threading.Lock()
        self._token: str | None = None
        self._epoch = 0
        self._subscriptions: set[str] = set()
        self._reply_lock = threading.Lock()
        self._reply: tuple[str, int] | None = None
        self._calls: set[str] = set()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def epoch(self) -> int:
        """How many times this client logged in: it moves when the session changes, and with it every temporary
        queue and (after a switch restart) every message id of the old session are gone."""
        return self._epoch

    # Session

    def login(self) -> str:
        """The session's token, logging in if there is none (every other method does that itself)."""
        return self._session()[0]

    def close(self) -> None:
        """Logs out, best effort: an unreachable switch ends the session when its lease runs out."""
        with self._session_lock:
            token, self._token = self._token, None
            self._subscriptions.clear()
        if token is not None:
            try:
                self._exchange("DELETE", "/v1/session", token=token, retry=False)
            except SwitchError:
                pass
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()

    # Queues

    def create_queue(self, name: str) -> dict[str, Any]:
        """Creates a persistent queue; idempotent (``created`` is false if it existed)."""
        return self._request("PUT", f"/queues/{_name(name)}")

    def create_temporary_queue(self) -> str:
        """Creates a queue with a fresh name that lives as long as this session, and answers its name."""
        return self._request("POST", "/queues")["name"]

    def destroy(self, name: str) -> None:
        self._request("DELETE", f"/queues/{_name(name)}")

    def queues(self, prefix: str | None = None) -> list[dict[str, Any]]:
        return self._request("GET", "/queues", query={"prefix": prefix})["queues"]

    def queue(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"/queues/{_name(name)}")

    # Messages

    def send(self, queue: str, body: Body, *, correlation_id: str | None = None, reply_to: str | None = None,
             ack: int | None = None, error: bool = False, idempotency_key: str | None = None) -> dict[str, Any]:
        """Sends a message and answers ``{"id", "duplicate"}``. It carries an idempotency key (yours, or a fresh
        one) kept over retries, so a retried send is enqueued once. With ``ack`` (a reply that acks its request)
        it is not repeated after a re-login: see ``ack``."""
        query = {"correlationId": correlation_id, "replyTo": reply_to, "ack": ack, "error": "true" if error else None}
        headers = {"Content-Type": "application/octet-stream",
                   "Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return self._request("POST", f"/queues/{_name(queue)}/messages", query=query, body=_bytes(body),
                             headers=headers, relogin=ack is None)

    def subscribe(self, queue: str) -> None:
        """Subscribes this session to a queue; restored after a re-login."""
        self._request("PUT", f"/session/subscriptions/{_name(queue)}")
        self._subscriptions.add(queue)

    def unsubscribe(self, queue: str) -> None:
        self._subscriptions.discard(queue)
        self._request("DELETE", f"/session/subscriptions/{_name(queue)}")

    def transfer(self, after: int = 0, timeout: float = 0.0, max: int | None = None) -> Transfer:
        """Long-polls the subscribed queues for messages with ids above ``after``, waiting up to ``timeout``
        seconds for one. After a re-login (``epoch`` moved) a restarted switch counts ids from 1: start from 0."""
        answer = self._request("GET", "/transfer", query={"after": after, "timeout": timeout, "max": max},
                               poll=timeout)
        return Transfer([Message.from_json(message) for message in answer["messages"]], answer["next"])

    def ack(self, id: int) -> None:
        """Acks (deletes) a message. Not repeated after a re-login: a switch restarted in memory numbers messages
        afresh, so the id could name another message; the 401 is raised instead (the next request logs in)."""
        self._request("DELETE", f"/messages/{id}", relogin=False)

    # Publish/subscribe

    def publish(self, topic: str, body: Body, *, retain: bool = False) -> dict[str, Any]:
        """Copies the message into every queue bound to a matching filter; answers ``{"ids", "count", ...}``."""
        headers = {"Content-Type": "application/octet-stream", "Idempotency-Key": uuid.uuid4().hex}
        return self._request("POST", f"/topics/{_name(topic)}/messages", query={"retain": "true" if retain else None},
                             body=_bytes(body), headers=headers)

    def bind(self, queue: str, filter: str) -> dict[str, Any]:
        """Binds a queue to a topic filter (``+`` one level, ``#`` the rest); idempotent."""
        return self._request("PUT", f"/queues/{_name(queue)}/bindings/{_name(filter)}")

    def unbind(self, queue: str, filter: str) -> None:
        self._request("DELETE", f"/queues/{_name(queue)}/bindings/{_name(filter)}")

    # Patterns

    def rpc(self, queue: str, body: Body, timeout: float = 30.0) -> bytes:
        """Sends ``body`` to ``queue`` with this client's temporary reply queue and a fresh correlation id, and
        answers the reply's payload. Raises RemoteError for an error reply, RpcTimeout after ``timeout`` s.
        If the session is lost meanwhile, the request is sent again to a new reply queue (at-least-once)."""
        payload = _bytes(body)
        correlation_id = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        self._calls.add(correlation_id)
        try:
            sent_in: int | None = None
            cursor = 0
            while True:
                reply_queue, epoch = self._reply_queue()
                if sent_in != epoch:
                    # A reply's id is above its request's: start reading there.
                    cursor = self.send(queue, payload, correlation_id=correlation_id, reply_to=reply_queue)["id"]
                    sent_in = epoch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RpcTimeout(queue, timeout)
                answer = self.transfer(after=cursor, timeout=min(remaining, RPC_POLL))
                if self._epoch != epoch:
                    continue
                cursor = answer.next
                for message in answer.messages:
                    if message.queue != reply_queue:
                        continue
                    if message.correlation_id == correlation_id:
                        self._ack_quietly(message.id)
                        if message.error:
                            raise RemoteError(queue, message.payload)
                        return message.payload
                    if message.correlation_id not in self._calls:
                        # A late reply to a call that gave up, or a second one: nobody wants it.
                        self._ack_quietly(message.id)
        finally:
            self._calls.discard(correlation_id)

    def serve(self, queue: str, handler: Handler, *, stop: threading.Event | None = None,
              ready: Callable[[], None] | None = None) -> None:
        """Serves ``queue`` until ``stop`` is set (or forever): creates it (persistent) and subscribes, calls
        ``ready`` once, and answers each request with ``handler(payload)``, replying and acking in one request.
        A request without ``replyTo`` is just acked. Processing is at-least-once."""
        stop = stop or threading.Event()
        epoch: int | None = None
        cursor = 0
        try:
            while not stop.is_set():
                if epoch != self._epoch:
                    # A new session (the first, or after expiry or a restart): queue and subscription again.
                    epoch = self._session()[1]
                    self.create_queue(queue)
                    self.subscribe(queue)
                    cursor = 0
                    if ready is not None:
                        ready()
                        ready = None
                    continue
                answer = self.transfer(after=cursor, timeout=SERVE_POLL)
                if self._epoch != epoch:
                    continue
                cursor = answer.next
                for message in answer.messages:
                    if message.queue == queue:
                        self._answer(message, handler, epoch)
        finally:
            self._subscriptions.discard(queue)
            try:
                self._exchange("DELETE", f"/v1/session/subscriptions/{_name(queue)}", token=self._token, retry=False)
            except SwitchError:
                pass  # Best effort: the subscription ends with the session anyway.

    def _answer(self, message: Message, handler: Handler, epoch: int) -> None:
        try:
            reply, error = _bytes(handler(message.payload)), False
        except Exception as failure:  # noqa: BLE001 - any failure of the handler is the caller's answer
            reply, error = str(failure).encode("utf-8"), True
        if message.reply_to is None:
            self._ack_quietly(message.id)
            return
        try:
            # The id names the request only in the session that delivered it (a restart numbers afresh).
            ack = message.id if self._epoch == epoch else None
            self.send(message.reply_to, reply, correlation_id=message.correlation_id, ack=ack, error=error)
        except SwitchError as failure:
            if failure.code == "session_not_found":
                # Reply without the ack; if the request survived, it comes again and the caller drops the copy.
                self._reply_quietly(message, reply, error)
            elif failure.code == "queue_not_found":
                self._ack_quietly(message.id)  # the caller is gone
            elif failure.code != "message_not_found":  # another server answered it already
                raise

    def _reply_quietly(self, message: Message, reply: bytes, error: bool) -> None:
        try:
            self.send(message.reply_to or "", reply, correlation_id=message.correlation_id, error=error)
        except SwitchError as failure:
            if failure.code != "queue_not_found":
                raise

    def _ack_quietly(self, id: int) -> None:
        try:
            self.ack(id)
        except SwitchError as failure:
            if failure.status not in (401, 404):
                raise

    def _reply_queue(self) -> tuple[str, int]:
        """This session's temporary reply queue, created (and subscribed) once per session."""
        while True:
            epoch = self._session()[1]
            with self._reply_lock:
                if self._reply is not None and self._reply[1] == epoch:
                    return self._reply
                name = self.create_temporary_queue()
                self.subscribe(name)
                if self._epoch == epoch:
                    self._reply = (name, epoch)
                    return self._reply

    # HTTP

    def _session(self) -> tuple[str, int]:
        with self._session_lock:
            if self._token is None:
                self._login()
            assert self._token is not None
            return self._token, self._epoch

    def _login(self) -> None:
        body = json.dumps({"client": self.client, **self._credentials}).encode("utf-8")
        status, data = self._exchange("POST", "/v1/sessions", body=body, headers={"Content-Type": "application/json"})
        if status != 201:
            raise SwitchError.from_response(status, data)
        token = json.loads(data)["token"]
        for queue in list(self._subscriptions):
            status, data = self._exchange("PUT", f"/v1/session/subscriptions/{_name(queue)}", token=token)
            if status == 404:
                self._subscriptions.discard(queue)  # gone with the old session, or with the switch's memory
            elif status >= 300:
                raise SwitchError.from_response(status, data)
        self._token = token
        self._epoch += 1

    def _request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: bytes | None = None,
                 headers: dict[str, str] | None = None, poll: float = 0.0, relogin: bool = True) -> Any:
        """One request in the session: logged in first if needed, and once more if the session was lost."""
        present = {key: value for key, value in (query or {}).items() if value is not None}
        target = f"/v1{path}" + (f"?{urlencode(present)}" if present else "")
        for attempt in (1, 2):
            token = self._session()[0]
            status, data = self._exchange(method, target, body=body, headers=headers, token=token, poll=poll)
            if status == 401:
                error = SwitchError.from_response(status, data)
                if error.code == "session_not_found":
                    with self._session_lock:
                        if self._token == token:
                            self._token = None  # the first to notice drops it; the next request logs in
                    if relogin and attempt == 1:
                        continue
                raise error
            if status >= 300:
                raise SwitchError.from_response(status, data)
            return json.loads(data) if data else None
        raise AssertionError("unreachable")

    def _exchange(self, method: str, target: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
                  token: str | None = None, poll: float = 0.0, retry: bool = True) -> tuple[int, bytes]:
        """One HTTP exchange on this thread's keep-alive connection, retried with backoff while the switch cannot
        be reached or is shutting down (a restart), for up to ``retry_for`` seconds."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            connection = self._connection(poll + ANSWER_GRACE)
            try:
                connection.request(method, target, body=body, headers=all_headers)
                response = connection.getresponse()
                data = response.read()
                if response.status != 503 or b'"shutting_down"' not in data:
                    return response.status, data
                failure: BaseException = SwitchError.from_response(response.status, data)
            except (ConnectionError, http.client.HTTPException) as error:
                connection.close()  # reopened by the next request
                failure = error
            except OSError as error:  # a timeout, an unknown host: no retry changes that
                connection.close()
                raise SwitchUnavailable(self.url, 0, error) from error
            if not retry or time.monotonic() + delay > deadline:
                raise SwitchUnavailable(self.url, self.retry_for if retry else 0, failure) from failure
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=timeout)
            self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection
