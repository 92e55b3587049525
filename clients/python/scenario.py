"""scenario URL: runs the shared scenario (clients/scenario.md), one `ok STEP` or `not ok STEP: why` line per step."""
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from switch_client import Client, Message, SwitchError
from serve import upper

LANG = "python"
PID = os.getpid()
BASE = f"scn-{LANG}-{PID}"
TOPICS = f"scn/{LANG}-{PID}"


class Failed(Exception):
    pass


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise Failed(reason)


def receive(client: Client, queue: str, count: int, after: int = 0, wait: float = 5.0) -> list[Message]:
    """The next ``count`` messages of ``queue`` (transfers return every subscribed queue's)."""
    found: list[Message] = []
    deadline = time.monotonic() + wait
    while len(found) < count:
        remaining = deadline - time.monotonic()
        check(remaining > 0, f"{len(found)} of {count} messages arrived in {queue} within {wait:g} s")
        answer = client.transfer(after=after, timeout=min(remaining, 1.0))
        after = answer.next
        found += [message for message in answer.messages if message.queue == queue]
    return found


@contextmanager
def serving(client: Client, queue: str) -> Iterator[None]:
    """Serves ``queue`` with the upper-casing handler on a thread while the block runs."""
    stop, ready = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            client.serve(queue, upper, stop=stop, ready=ready.set)
        except BaseException as error:  # noqa: BLE001 - reported by the step
            failures.append(error)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        check(not failures, f"serve failed: {failures[0] if failures else ''}")
        yield
    finally:
        stop.set()
        thread.join(10)
    check(not failures, f"serve failed: {failures[0] if failures else ''}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: scenario URL", file=sys.stderr)
        return 2
    url = argv[1]
    queue = f"{BASE}-q"
    rpc_queue = f"{BASE}-rpc"
    passed = True

    def step(name: str, run: Callable[[], None]) -> None:
        nonlocal passed
        try:
            run()
            print(f"ok {name}", flush=True)
        except (Failed, SwitchError, OSError, ValueError) as error:
            passed = False
            reason = " ".join(str(error).split()) or type(error).__name__
            print(f"not ok {name}: {reason}", flush=True)

    with Client(url, f"scenario-{LANG}:{PID}") as client:
        def login() -> None:
            check(client.login() != "", "no token")

        def queues() -> None:
            client.create_queue(queue)
            check(queue in [info["name"] for info in client.queues(prefix=BASE)], "the list does not show the queue")
            info = client.queue(queue)
            check(info["name"] == queue and info["kind"] == "persistent", f"get answered {info}")

        def send_transfer_ack() -> None:
            client.subscribe(queue)
            for body in ("one", "two", "three"):
                client.send(queue, body)
            messages = receive(client, queue, 3)
            check([message.payload for message in messages] == [b"one", b"two", b"three"],
                  f"received {[message.payload for message in messages]}")
            ids = [message.id for message in messages]
            check(ids == sorted(set(ids)), f"ids not increasing: {ids}")
            for message in messages:
                client.ack(message.id)
            rest = client.transfer(after=ids[-1], timeout=0.1)
            check(rest.messages == [], f"{len(rest.messages)} messages after the last one")

        def binary() -> None:
            sent = bytes(range(256))
            client.send(queue, sent)
            [message] = receive(client, queue, 1)
            check(message.payload == sent, f"received {len(message.payload)} other bytes")
            client.ack(message.id)

        def missing_queue() -> None:
            try:
                client.send(f"{BASE}-missing", "lost")
            except SwitchError as error:
                check(error.status == 404 and error.code == "queue_not_found", f"{error.status} {error.code}")
                return
            raise Failed("the send succeeded")

        def publish_bind() -> None:
            topic_queue = f"{BASE}-topic"
            client.create_queue(topic_queue)
            client.bind(topic_queue, f"{TOPICS}/+")
            client.subscribe(topic_queue)
            client.publish(f"{TOPICS}/x", "hi")
            [message] = receive(client, topic_queue, 1)
            check(message.payload == b"hi" and message.topic == f"{TOPICS}/x", f"received {message}")
            client.ack(message.id)

        def rpc() -> None:
            with serving(client, rpc_queue):
                reply = client.rpc(rpc_queue, "hello", timeout=10)
                check(reply == b"HELLO", f"replied {reply!r}")

        def session_expiry() -> None:
            epoch = client.epoch
            time.sleep(3.5)
            client.send(queue, "after expiry")
            check(client.epoch > epoch, "the session did not expire: no new login")
            with serving(client, rpc_queue):
                reply = client.rpc(rpc_queue, "again", timeout=10)
                check(reply == b"AGAIN", f"replied {reply!r}")

        def restart() -> None:
            print("ready-for-restart", flush=True)
            check(sys.stdin.readline() != "", "stdin closed before go")
            after = f"{BASE}-after"
            client.create_queue(after)
            client.subscribe(after)
            client.send(after, "back")
            [message] = receive(client, after, 1)
            check(message.payload == b"back", f"received {message.payload!r}")

        step("login", login)
        step("queues", queues)
        step("send-transfer-ack", send_transfer_ack)
        step("binary", binary)
        step("missing-queue", missing_queue)
        step("publish-bind", publish_bind)
        step("rpc", rpc)
        step("session-expiry", session_expiry)
        step("restart", restart)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
