"""The openai backend against a real chat-completions HTTP server on 127.0.0.1."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reward_shaping.qa import Evidence
from reward_shaping.reasoning import OpenAIBackend, ReasoningError
from reward_shaping.table import build_reward_table


class _Server:
    """Answers POST /v1/chat/completions from a queue of canned behaviours."""

    def __init__(self):
        self.script: list = []  # items: ("answer", text) | ("status", code) | ("sleep", s) | ("raw", bytes)
        self.default = ("answer", "Yes")
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                kind, value = server.script.pop(0) if server.script else server.default
                if self.path != "/v1/chat/completions":
                    kind, value = "status", 404
                if kind == "sleep":
                    time.sleep(value)
                    kind, value = "answer", "Yes"
                if kind == "status":
                    self.send_response(value)
                    self.end_headers()
                    return
                payload = value if kind == "raw" else json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": value}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.httpd.shutdown()


def _backend(url, **kw):
    return OpenAIBackend(base_url=url, model="test-model", timeout=kw.pop("timeout", 2.0),
                         retries=kw.pop("retries", 2), backoff=0.01, **kw)


EVIDENCE = [Evidence("If a car hits your chicken, it loses time.", 0.8)]


def _decide(backend):
    return backend.decide("Freeway", "Car", ["car"], EVIDENCE, [])


@pytest.mark.parametrize("reply, answer", [("Yes", "yes"), ("no.", "no"), ("  NO, it is bad", "no"),
                                           ("**Yes**", "yes")])
def test_answers_are_parsed(server, reply, answer):
    server.default = ("answer", reply)
    assert _decide(_backend(server.url)).answer == answer
    req = server.requests[-1]
    assert req["model"] == "test-model" and "If a car hits your chicken" in req["messages"][-1]["content"]


def test_api_key_is_sent_but_not_stored(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sekret-123")
    backend = _backend(server.url, api_key_env="MY_KEY")
    _decide(backend)
    assert server.headers[-1]["Authorization"] == "Bearer sekret-123"
    assert "sekret" not in json.dumps(backend.settings())


def test_retries_after_500_and_garbage(server):
    server.script = [("status", 500), ("answer", "Maybe? Who knows"), ("answer", "No")]
    assert _decide(_backend(server.url)).answer == "no"
    assert len(server.requests) == 3


def test_persistent_garbage_is_an_error(server):
    server.default = ("answer", "I think the car is a vehicle.")
    with pytest.raises(ReasoningError, match="unparseable model answer"):
        _decide(_backend(server.url))
    server.default = ("raw", b"this is not json")
    with pytest.raises(ReasoningError, match="malformed chat-completions response"):
        _decide(_backend(server.url, retries=0))


def test_slow_server_times_out(server):
    server.default = ("sleep", 1.5)
    start = time.monotonic()
    with pytest.raises(ReasoningError, match="cannot reach the LLM server"):
        _decide(_backend(server.url, timeout=0.3, retries=1))
    assert time.monotonic() - start < 4


def test_closed_port_is_reported():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ReasoningError, match=f"cannot reach the LLM server at http://127.0.0.1:{port}/v1"):
        _decide(_backend(f"http://127.0.0.1:{port}/v1", retries=1))


def test_full_table_through_the_server(server, tmp_path):
    server.default = ("answer", "No")
    table = build_reward_table("Skiing", backend="openai", cache_dir=tmp_path,
                               backend_options={"base_url": server.url, "model": "m", "backoff": 0.01})
    assert {c: e.reward for c, e in table.objects.items() if e.source == "backend"} == \
        {"Tree": -5.0, "Mogul": -5.0, "Flag": -5.0, "Gate:pass": -5.0, "Gate:miss": -5.0}
    # Each gate event is asked about with its own question.
    asked = " ".join(m["content"] for r in server.requests for m in r["messages"])
    assert "go through the gate" in asked and "miss the gate" in asked
    assert table.objects["Clock"].reward == 0.0 and table.backend == "openai"


def test_bad_backend_settings():
    with pytest.raises(ValueError, match="base_url"):
        OpenAIBackend(base_url="localhost:1234")
    with pytest.raises(ValueError, match="timeout"):
        OpenAIBackend(timeout=0)
