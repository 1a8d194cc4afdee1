"""`gateway serve` as an operator runs it and as an outsider on the network meets it: malformed
HTTP answered without echo and logged without its bytes, HTTPS served directly or through a
trusted proxy (Secure cookies, HSTS), and configuration mistakes ending in one line."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import re
import signal
import socket
import ssl
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli import Ran, command, environ, run
from tests.conftest import CANARY_FIELDS, ROOT, write_config

#: Bytes an outsider sends; none of them may come back or reach the process log.
MARKER = CANARY_FIELDS["name"]


def fake_urls() -> dict[str, str]:
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    return dict.fromkeys(raw["carriers"], "http://127.0.0.1:1")


def configured(tmp_path: Path, *, port: int = 0, gateway: str = "", record: str = "") -> Path:
    """The shipped config.toml for a process under ``tmp_path``, with extra ``[gateway]`` and
    ``[record]`` lines."""
    path = write_config(tmp_path, fake_urls(), port=port)
    text = path.read_text().replace("[gateway]\n", f"[gateway]\n{gateway}\n", 1)
    path.write_text(text.replace("[record]\n", f"[record]\n{record}\n", 1))
    return path


def run_cli(config: Path, *args: str) -> Ran:
    return run("--config", str(config), *args)


class Served:
    """A running `gateway serve` process and every line it wrote to its log (stderr)."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            command("--config", str(config), "serve"), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=environ())
        self.lines: list[bytes] = []
        self.listening = threading.Event()
        self.port = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.listening.wait(60):
            self.proc.kill()
            self.proc.wait()
            self.reader.join(10)
            assert self.proc.stderr is not None
            self.proc.stderr.close()
            raise AssertionError(b"".join(self.lines).decode(errors="replace"))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if b'"serve.listening"' in line:
                self.port = json.loads(line)["port"]
                self.listening.set()

    def stop(self) -> list[bytes]:
        """SIGTERM, then the whole log."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        assert code == 0, b"".join(self.lines).decode(errors="replace")
        return self.lines


@contextmanager
def serving(config: Path) -> Iterator[Served]:
    served = Served(config)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.stop()


def exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer until the server closes: status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


HOSTILE = {
    "a 9,000-character query": (
        f"GET /v1/review/entries?customer={MARKER}&q={'x' * 9000} HTTP/1.1\r\n"
        "Host: gateway\r\n\r\n").encode(),
    "a header line that is no header": (
        f"GET /healthz HTTP/1.1\r\nHost: gateway\r\nBad Header: <{MARKER}>\r\n\r\n").encode(),
    "a header field over the size limit": (
        f"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Note: {MARKER}{'y' * 9000}\r\n\r\n"
    ).encode(),
    "a control character in a header": (
        f"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Note: {MARKER}\x01\r\n\r\n").encode(),
    "a broken request line": f"GET /{MARKER} HTTP/9.Q\r\nHost: gateway\r\n\r\n".encode(),
    "a method that is no token": f"G{{T}} /{MARKER} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "no HTTP at all": b"\x16\x03\x01\x02\x00" + MARKER.encode() + b"\r\n\r\n",
}


class TestMalformedHttp:
    def test_hostile_bytes_get_a_problem_and_leave_no_trace_in_the_log(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Whatever malformed HTTP arrives, the answer is a problem+json that echoes none of
        it, and every line of the process log is JSON holding none of the sent bytes."""
        with serving(configured(tmp_path)) as served:
            for name, data in HOSTILE.items():
                status, headers, body = exchange(served.port, data)
                assert status == 400, name
                assert headers["content-type"] == "application/problem+json", name
                problem = json.loads(body)
                assert problem["status"] == 400, name
                assert MARKER.encode() not in body, name
                assert b"xxxxxxxx" not in body, name
            status, _, _ = exchange(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                 b"Connection: close\r\n\r\n")
            assert status == 200
            lines = served.stop()
        events = [json.loads(line) for line in lines]  # every line is JSON
        assert all(MARKER.encode() not in line and b"xxxxxxxx" not in line for line in lines)
        malformed = [e for e in events if e["event"] == "http.malformed_request"]
        assert len(malformed) == len(HOSTILE)
        assert {e["error"] for e in malformed} >= {"LineTooLong", "BadHttpMessage"}
        assert not any("Traceback" in json.dumps(e) for e in events)

    def test_the_access_log_names_routes_not_paths(self, tmp_path: Path,
                                                   carrier_env: None) -> None:
        """An ordinary request is logged by its route's pattern; its query is not."""
        with serving(configured(tmp_path)) as served:
            status, _, _ = exchange(served.port, (
                f"GET /v1/authority/requests/ar_0123456789abcdef?x={MARKER[:5]} HTTP/1.1\r\n"
                "Host: x\r\nConnection: close\r\n\r\n").encode())
            assert status == 401
            lines = served.stop()
        access = [json.loads(line) for line in lines if b'"http.access"' in line]
        assert access[-1]["route"] == "/v1/authority/requests/{id}"
        assert access[-1]["status"] == 401
        assert all(MARKER[:5].encode() not in line for line in lines)
        assert all(MARKER[:5].encode() not in line for line in lines)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TestTls:
    def test_serve_answers_https_with_secure_cookies_and_hsts(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """With tls_cert and tls_key, `gateway serve` speaks HTTPS; the login form's cookie
        is Secure and every answer carries Strict-Transport-Security."""
        cert, _ = self_signed(tmp_path / "secrets")
        config = configured(tmp_path, gateway='tls_cert = "secrets/tls.crt"\n'
                                              'tls_key = "secrets/tls.key"')
        with serving(config) as served:
            context = ssl.create_default_context(cafile=str(cert))
            conn = http.client.HTTPSConnection("127.0.0.1", served.port, context=context,
                                               timeout=10)
            conn.request("GET", "/review/login")
            answer = conn.getresponse()
            answer.read()
            conn.close()
            assert answer.status == 200
            assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
            cookie = answer.headers["Set-Cookie"]
            assert "gateway_login=" in cookie
            assert "Secure" in cookie
            lines = served.stop()
        assert any(b'"scheme":"https"' in line for line in lines)

    @pytest.mark.parametrize(
        ("lines", "message"),
        [
            ('tls_cert = "secrets/tls.crt"', "tls_cert and tls_key go together"),
            ('tls_cert = "secrets/tls.crt"\ntls_key = "secrets/none.key"',
             "tls_key: cannot read"),
            ('tls_cert = "secrets/tls.key"\ntls_key = "secrets/tls.crt"',
             "not a PEM certificate chain and its private key"),
        ],
    )
    def test_a_wrong_tls_setting_stops_with_one_line(self, tmp_path: Path,
                                                     carrier_env: None, lines: str,
                                                     message: str) -> None:
        self_signed(tmp_path / "secrets")
        result = run_cli(configured(tmp_path, gateway=lines), "serve")
        assert result.returncode == 1
        assert message in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr


def set_setting(path: Path, table: str, key: str, value: str) -> None:
    """Write ``key = value`` in ``[table]`` of a config file, replacing the shipped line."""
    text = path.read_text()
    line = f"{key} = {value}"
    if re.search(rf"(?m)^{key} = ", text):
        text = re.sub(rf"(?m)^{key} = .*$", lambda _: line, text, count=1)
    else:
        text = text.replace(f"[{table}]\n", f"[{table}]\n{line}\n", 1)
    path.write_text(text)


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("table", "key", "value", "message"),
        [
            ("gateway", "port", '"eighty"', "[gateway] port: must be an integer 0-65535"),
            ("gateway", "port", "99999", "[gateway] port: must be an integer 0-65535"),
            ("gateway", "port", "true", "[gateway] port: must be an integer 0-65535"),
            ("gateway", "max_body_bytes", "-1", "[gateway] max_body_bytes: must be an integer"),
            ("gateway", "trusted_proxies", '["10.0.0.300"]',
             "[gateway] trusted_proxies: '10.0.0.300' is not an IP address or CIDR range"),
            ("gateway", "trusted_proxies", '"10.0.0.1"',
             "[gateway] trusted_proxies: expected a list"),
            ("record", "batch_max", '"lots"', "[record] batch_max: must be an integer 1-100000"),
            ("record", "queue_max", "0", "[record] queue_max: must be an integer"),
            ("record", "checkpoint_every", "0", "[record] checkpoint_every: must be an integer"),
            ("record", "checkpoint_interval", "0",
             "[record] checkpoint_interval: a number of seconds above 0"),
            ("record", "checkpoint_interval", "1e9",
             "[record] checkpoint_interval: a number of seconds above 0 (at most 86400)"),
        ],
    )
    def test_a_bad_setting_stops_commands_with_one_line_naming_it(
        self, tmp_path: Path, carrier_env: None, table: str, key: str, value: str,
        message: str,
    ) -> None:
        """A wrong value ends `gateway serve` (and every command reading the config) with one
        line naming the file and the setting, exit 1, no traceback."""
        path = configured(tmp_path)
        set_setting(path, table, key, value)
        for argv in (["serve"], ["erasure", "run"]):
            result = run_cli(path, *argv)
            assert result.returncode == 1, result.stderr
            assert result.stderr.startswith(f"gateway: {path}: {message}"), result.stderr
            assert len(result.stderr.splitlines()) == 1
            assert "Traceback" not in result.stderr

    def test_a_port_in_use_stops_serve_with_one_line_naming_the_address(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = run_cli(configured(tmp_path, port=port), "serve")
        assert result.returncode == 1
        assert result.stderr.startswith(f"gateway: cannot listen on 127.0.0.1:{port}: ")
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr
