"""One load point: a fresh carrier sandbox, a fresh server in front of it, and the load generator,
each in its own process; the server's CPU time is read at the instants the measurement window
opens and closes.

Every point starts from nothing (new sandbox, new server, new record), so no point inherits
another's bookings, queues or caches.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import attrs
import orjson

from bench import procs, wrk
from gateway.demo import sandbox_credentials
from gateway.keygen import keygen

ORIGIN = "jerone.fi/disclosure-record"
SERVERS = ("baseline", "gateway-sqlite", "gateway-postgres")


@attrs.frozen
class Point:
    server: str
    mode: str  # "closed" (saturation) or "open" (fixed offered rate)
    offered: float | None  # open loop: requests/s offered
    rps: float
    p50: float | None
    p99: float | None
    p999: float | None
    ok: int
    counted: int
    statuses: dict[str, int]
    cpu_ms_per_req: float  # the server process
    sandbox_cpu_ms_per_req: float
    loadgen_cpu_ms_per_req: float
    other_cores: float  # CPU used by every other process on the machine meanwhile, in cores
    peak_rss_mb: float  # the server process, VmHWM when the point ends
    profile: Path | None = None


@attrs.frozen
class Settings:
    concurrency: int = 64
    warmup: float = 3.0
    duration: float = 10.0
    uvloop_client: bool = True
    untrimmed_sandbox: bool = False
    postgres_dsn: str | None = None
    #: extra lines for the gateway config's [record] table (e.g. a PostgreSQL store)
    record_extra: str = ""


def write_gateway_config(directory: Path, posti_url: str, port: int, *, store: str = "sqlite",
                         record_extra: str = "") -> tuple[Path, dict[str, str]]:
    """The shipped config.toml, pointed at the sandbox, with fresh secrets under ``directory``.
    Returns the config path and the environment the gateway needs (carrier credentials)."""
    text = (procs.ROOT / "config.toml").read_text(encoding="utf-8")
    keygen(directory / "secrets", origin=ORIGIN)
    changes = [
        (r'(?m)^path = "var/record\.sqlite"$', 'path = "record.sqlite"'),
        (r"var/secrets/", "secrets/"),
        (r"(?m)^port = \d+$", f"port = {port}"),
        (r'(\[carriers\.posti\][^\[]*?base_url = )"[^"]*"', rf'\g<1>"{posti_url}"'),
        (r'(?m)^store = "sqlite"$', f'store = "{store}"' + (f"\n{record_extra}" if
                                                           record_extra else "")),
    ]
    for pattern, replacement in changes:
        text, n = re.subn(pattern, replacement, text, count=1 if "port" in pattern else 0)
        if n == 0:
            raise RuntimeError(f"config.toml changed shape: nothing matches {pattern!r}")
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path, sandbox_credentials(tomllib.loads(text))


def _start_server(server: str, directory: Path, posti_url: str,
                  settings: Settings) -> tuple[procs.Proc, str]:
    port = procs.free_port()
    if server == "baseline":
        keygen(directory / "secrets", origin=ORIGIN)  # the load generator signs all the same
        proc = procs.python("bench.baseline_proxy", "--posti-url", posti_url, "--port", str(port),
                            name="baseline proxy", log=directory / "baseline.log")
    else:
        store = server.removeprefix("gateway-")
        config, env = write_gateway_config(directory, posti_url, port, store=store,
                                           record_extra=settings.record_extra)
        proc = procs.python("gateway.cli", "--config", str(config), "serve",
                            name=f"gateway ({store})", log=directory / "gateway.log", env=env)
    url = f"http://127.0.0.1:{port}"
    procs.wait_healthy(proc, url + "/healthz")
    return proc, url


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def run_point(server: str, *, rate: float | None, settings: Settings,
              profile: Path | None = None, generator: str = "python") -> Point:
    """Saturation (closed loop, ``rate`` None) or a fixed offered ``rate`` (open loop), with
    the Python load generator (bench/loadgen.py) or, at saturation, wrk (bench/wrk.py)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{server}-") as tmp, \
            contextlib.ExitStack() as stack:
        directory = Path(tmp)
        if server == "gateway-postgres":  # a fresh schema of its own, dropped afterwards
            from bench.instances import fresh_schema, postgres_record  # noqa: PLC0415

            schema = stack.enter_context(fresh_schema())
            settings = attrs.evolve(settings, record_extra=postgres_record(schema))
        sandbox, posti_url = procs.start_sandbox("posti", untrimmed=settings.untrimmed_sandbox)
        server_proc = loadgen = spy = None
        try:
            server_proc, base = _start_server(server, directory, posti_url, settings)
            url = f"{base}/v1/hooks/orders"
            if generator == "wrk":
                return _wrk_point(server, url, directory, settings,
                                  {"server": server_proc, "sandbox": sandbox})
            mode = ["closed", "--concurrency", str(settings.concurrency)] if rate is None else [
                "open", "--rate", f"{rate:.1f}"]
            loadgen = procs.python(
                "bench.loadgen", url, "--secret", str(directory / "secrets" / "hook-secret"),
                "--warmup", str(settings.warmup), "--duration", str(settings.duration),
                *(["--uvloop"] if settings.uvloop_client else []), *mode,
                name="load generator", stdout_pipe=True, log=directory / "loadgen.log")
            watched = {"server": server_proc, "sandbox": sandbox, "loadgen": loadgen}
            assert loadgen.popen.stdout is not None
            marks: dict[str, dict[str, float]] = {}
            result: dict[str, Any] | None = None
            for line in loadgen.popen.stdout:
                if line.startswith("MEASURE "):
                    marks[line.split()[1]] = {k: p.cpu() for k, p in watched.items()}
                    marks[line.split()[1]]["machine"] = procs.busy_seconds()
                    if line.startswith("MEASURE START") and profile is not None and py_spy():
                        spy = procs.Proc("py-spy", _spawn_py_spy(server_proc.pid, profile,
                                                                 settings.duration))
                elif line.startswith("{"):
                    result = orjson.loads(line)
            loadgen.popen.wait(30)
            if result is None or "START" not in marks or "END" not in marks:
                tail = (directory / "loadgen.log").read_text()[-2000:]
                raise RuntimeError(f"the load generator failed on {server} (exit "
                                   f"{loadgen.popen.returncode}):\n{tail}")
            if spy is not None:
                spy.popen.wait(30)
            rss = server_proc.peak_rss()
        finally:
            for proc in (spy, loadgen, server_proc, sandbox):
                if proc is not None:
                    proc.stop()
    return _point_of(server, rate, result, marks, rss, profile if spy is not None else None)


def _wrk_point(server: str, url: str, directory: Path, settings: Settings,
               watched: dict[str, procs.Proc]) -> Point:
    marks: dict[str, dict[str, float]] = {}

    def mark(name: str) -> None:
        marks[name] = {k: p.cpu() for k, p in watched.items()}
        marks[name]["machine"] = procs.busy_seconds()
        marks[name]["loadgen"] = procs.children_cpu_seconds()

    result = wrk.drive(url, directory / "secrets" / "hook-secret", directory,
                       concurrency=settings.concurrency, warmup=settings.warmup,
                       duration=settings.duration, marks=mark)
    return _point_of(server, None, result, marks, watched["server"].peak_rss(), None)


def _point_of(server: str, rate: float | None, result: dict[str, Any],
              marks: dict[str, dict[str, float]], rss: float, profile: Path | None) -> Point:
    done = max(result["ok"], 1)
    spent = {k: marks["END"][k] - marks["START"][k] for k in marks["END"]}
    cpu = {k: v * 1000 / done for k, v in spent.items()}
    others = spent["machine"] - spent["server"] - spent["sandbox"] - spent["loadgen"]
    return Point(
        server=server, mode=result["mode"], offered=rate, rps=result["rps"],
        p50=result["p50_ms"], p99=result["p99_ms"], p999=result["p999_ms"], ok=result["ok"],
        counted=result["counted"], statuses=result["statuses"],
        cpu_ms_per_req=cpu["server"], sandbox_cpu_ms_per_req=cpu["sandbox"],
        loadgen_cpu_ms_per_req=cpu["loadgen"],
        other_cores=max(0.0, others) / result["window_s"], peak_rss_mb=rss,
        profile=profile,
    )


def _spawn_py_spy(pid: int, out: Path, duration: float) -> Any:  # noqa: ANN401 - a Popen
    import subprocess  # noqa: PLC0415

    spy = py_spy()
    assert spy is not None
    return subprocess.Popen(  # noqa: S603 - py-spy from our own environment
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(duration))),
         "--rate", "200", "--nonblocking", "--format", "raw", "--threads", "--output",
         str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def postgres_unavailable() -> str | None:
    """Why the gateway cannot be benchmarked on PostgreSQL here, or None if it can."""
    from bench.instances import postgres_unavailable as unavailable  # noqa: PLC0415

    return unavailable()
