"""`scripts/test --setup-only`: the machine set-up the README's test command (and CI) does first.

Each run happens in a private mount namespace whose /usr/bin and /etc are overlays on a tmpfs,
so a test can take Chromium or PostgreSQL away, or put a cluster in, without touching the
machine that others share. apt-get, pg_isready and pg_ctlcluster are stand-ins on PATH that
write down how they were called (installing a package or starting the real server here would
change the shared machine); everything else is the real script and the real system."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

from tests.conftest import ROOT

BROWSER_TESTS = ("tests/review/test_browser.py", "tests/authority/test_authority_browser.py")


def _can_overlay() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],  # noqa: S607
                           capture_output=True, check=False)
    return probe.returncode == 0


if not _can_overlay():
    pytest.skip("needs root and unshare --mount to shadow /usr/bin and /etc",
                allow_module_level=True)


@attrs.frozen
class Run:
    status: int
    stderr: str


@attrs.frozen
class Machine:
    """A throw-away view of this machine: shell ``prepare`` lines run as root inside the
    namespace first; ``stubs`` are commands put first on PATH."""

    tmp: Path

    def stub(self, name: str, body: str) -> None:
        path = self.tmp / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> {self.calls_file}\n{body}\n')
        path.chmod(0o755)

    @property
    def calls_file(self) -> Path:
        return self.tmp / "calls.log"

    def calls(self) -> list[str]:
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []

    def run(self, prepare: str, *, times: int = 1, ci: bool = False) -> list[Run]:
        fs, out = self.tmp / "fs", self.tmp / "out"
        fs.mkdir()
        out.mkdir()
        script = [
            "set -e",
            f"mount -t tmpfs tmpfs {fs}",
            *(f"mkdir -p {fs}/{d}/up {fs}/{d}/work && mount -t overlay overlay -o "
              f"lowerdir=/{d},upperdir={fs}/{d}/up,workdir={fs}/{d}/work /{d}"
              for d in ("usr/bin", "etc")),
            prepare,
            "set +e",
            *(f"bash {ROOT}/scripts/test --setup-only 2>{out}/{i}; echo $? > {out}/{i}.status"
              for i in range(times)),
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "GATEWAY_TEST_PG_URL")}
        env["PATH"] = f"{self.tmp / 'bin'}:{env['PATH']}"
        if ci:
            env["CI"] = "true"
        done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",  # noqa: S603, S607
                               "\n".join(script)], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return [Run(status=int((out / f"{i}.status").read_text()),
                    stderr=(out / str(i)).read_text()) for i in range(times)]


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = Machine(tmp_path)
    m.stub("pg_isready", f"[ -e {tmp_path}/pg-started ] && exit 0; exit 2")
    m.stub("pg_ctlcluster", f"touch {tmp_path}/pg-started")
    return m


NO_CHROMIUM = "rm -f /usr/bin/chromium"
ONE_CLUSTER = "rm -rf /etc/postgresql && mkdir -p /etc/postgresql/17/main"
APT_INSTALLS = ('case "$*" in *install*) printf "#!/bin/sh\\n" > /usr/bin/chromium && '
                "chmod 755 /usr/bin/chromium;; esac")
APT_BROKEN = 'echo "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2; exit 100'


class TestSetup:
    def test_installs_chromium_and_starts_postgresql_once(self, machine: Machine) -> None:
        """On a machine without Chromium and with PostgreSQL stopped, the first run installs
        Debian's chromium with apt-get and starts the cluster; the second run does nothing."""
        machine.stub("apt-get", APT_INSTALLS)
        first, second = machine.run(f"{NO_CHROMIUM}; {ONE_CLUSTER}", times=2)
        assert (first.status, second.status) == (0, 0)
        calls = machine.calls()
        assert [c for c in calls if c.startswith("apt-get")] == [
            "apt-get -qq -o DPkg::Lock::Timeout=300 update",
            "apt-get -qq -o DPkg::Lock::Timeout=300 install -y chromium"]
        assert [c for c in calls if c.startswith("pg_ctlcluster")] == [
            "pg_ctlcluster --skip-systemctl-redirect 17 main start"]
        assert "installing Debian's chromium" in first.stderr
        assert "starting PostgreSQL 17" in first.stderr
        assert second.stderr == ""

    def test_does_nothing_on_a_prepared_machine(self, machine: Machine) -> None:
        """With Chromium installed and PostgreSQL answering, nothing is installed or started
        and nothing is said."""
        machine.stub("apt-get", APT_BROKEN)
        machine.stub("pg_isready", "exit 0")
        (run,) = machine.run("printf '#!/bin/sh\\n' > /usr/bin/chromium; "
                             "chmod 755 /usr/bin/chromium")
        assert (run.status, run.stderr) == (0, "")
        assert [c for c in machine.calls() if not c.startswith("pg_isready")] == []

    def test_says_what_is_skipped_when_apt_is_unusable(self, machine: Machine) -> None:
        """When apt-get fails, every run goes on and says that the browser tests will be
        skipped, naming them, after apt's own message."""
        machine.stub("apt-get", APT_BROKEN)
        machine.stub("pg_isready", "exit 0")
        runs = machine.run(NO_CHROMIUM, times=2)
        for run in runs:
            assert run.status == 0
            assert "Could not get lock" in run.stderr
            assert "apt-get could not install it" in run.stderr
            assert "will be SKIPPED" in run.stderr
            assert all(name in run.stderr for name in BROWSER_TESTS)

    def test_in_ci_a_missing_chromium_is_said_to_fail(self, machine: Machine) -> None:
        """Under CI the same message says the browser tests will fail (CI never skips them)."""
        machine.stub("apt-get", APT_BROKEN)
        machine.stub("pg_isready", "exit 0")
        (run,) = machine.run(NO_CHROMIUM, ci=True)
        assert run.status == 0
        assert "will FAIL, as CI never skips them" in run.stderr

    def test_without_root_nothing_is_tried(self, machine: Machine) -> None:
        """As an ordinary user without password-less sudo, apt-get is not called and the run
        says why Chromium is missing; a stopped PostgreSQL is reported, not started."""
        machine.stub("apt-get", APT_INSTALLS)
        machine.stub("id", "echo 1000")
        (run,) = machine.run(f"{NO_CHROMIUM}; {ONE_CLUSTER}; rm -f /usr/bin/sudo")
        assert run.status == 0
        assert "installing it needs root or password-less sudo" in run.stderr
        assert "could not be started here" in run.stderr
        assert [c for c in machine.calls() if c.startswith(("apt-get", "pg_ctlcluster"))] == []

    def test_says_when_postgresql_is_not_installed(self, machine: Machine) -> None:
        """Without PostgreSQL's tools the run goes on and says the store tests will fail."""
        (machine.tmp / "bin" / "pg_isready").unlink()
        machine.stub("apt-get", APT_BROKEN)
        (run,) = machine.run("rm -f /usr/bin/pg_isready; printf '#!/bin/sh\\n' > "
                             "/usr/bin/chromium; chmod 755 /usr/bin/chromium")
        assert run.status == 0
        assert "PostgreSQL is not installed: the PostgreSQL store tests will FAIL" in run.stderr
