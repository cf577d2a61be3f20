"""`make bench` (python -m bench.run): serve the portal with gunicorn, measure every page of bench/pages.py.

This process is the load generator; the portal runs in a gunicorn it starts (and stops) with production
settings. Per page: one warm request (status, queries from the X-Queries header), a short unrecorded warm-up,
then CLIENTS concurrent signed-in clients for SECONDS, each sending its next request as soon as the last one
is answered. The trivial view is measured in the same run, as the ceiling every page is compared with.

See bench/README.md for the columns and how to add a page.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import http.client
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from bench.pages import PAGES, TRIVIAL

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
DEV_SECRET_KEY = "portal-development-secret-do-not-use-in-production"  # noqa: S105  (to refuse it)

# A 2-core box: 4 single-threaded worker processes. Python runs on both cores at once only in two processes
# (one GIL each), and a third and fourth keep the cores busy while some requests wait on PostgreSQL or Redis
# (~90 MB each). Threads would do that too, but requests of one process then take turns on its GIL every
# few milliseconds, and all of them finish late: measured at 16 clients on the customer list and the inbox,
# 2 x 4 threads gave p95 170 and 246 ms, 3 x 1 125 and 153 ms, 4 x 1 122 and 163 ms, at the same
# throughput. Four rather than three so that a long request (an export) leaves three to the rest. It is also
# what the Procfile runs.
WORKERS = 4
THREADS = 1
CLIENTS = 16
DRIFT_WARNING = 0.2  # the trivial view's start and end differing by more: the machine was not steady
REQUEST_TIMEOUT = 60.0  # seconds; a slower answer counts as an error


# --- statistics ---------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by the nearest-rank method: the smallest value with at least p% of the values at
    or below it. No interpolation, so every figure reported is a latency that was actually measured."""
    if not values:
        return math.nan
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass
class Measurement:
    requests: int = 0  # answered or failed, within the measured time
    elapsed: float = 0.0  # seconds
    p50: float = math.nan  # seconds
    p95: float = math.nan
    p99: float = math.nan
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    driver_cpu: float = 0.0  # CPU seconds the load generator used while measuring

    def error(self, kind: str, count: int = 1) -> None:
        if count:
            self.errors += count
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count

    def summary(self, queries, trivial_rps: float | None) -> dict:
        rps = self.requests / self.elapsed if self.elapsed else 0.0

        def ms(value):
            return None if math.isnan(value) else round(value * 1000, 1)

        return {
            "rps": round(rps, 1),
            "p50_ms": ms(self.p50),
            "p95_ms": ms(self.p95),
            "p99_ms": ms(self.p99),
            "errors": self.errors,
            "queries": queries,
            "ratio_to_trivial": round(rps / trivial_rps, 3) if trivial_rps else None,
            "requests": self.requests,
            "error_kinds": self.error_kinds,
            "driver_cpu_percent": round(100 * self.driver_cpu / self.elapsed, 1) if self.elapsed else None,
        }


# --- HTTP: http.client for the few set-up requests; the load from wrk, or aiohttp without it ---------------


class Portal:
    """The portal under test, as a browser behind the TLS proxy reaches it (X-Forwarded-Proto: https)."""

    def __init__(self, port: int):
        self.host = "127.0.0.1"
        self.port = port
        self.origin = f"https://{self.host}:{port}"
        self.cookies: dict[str, str] = {}

    def headers(self, signed_in: bool = True) -> dict[str, str]:
        headers = {"X-Forwarded-Proto": "https", "Accept-Language": "zh-hans"}
        if signed_in and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def request(self, method: str, path: str, *, body: dict | None = None, headers: dict | None = None):
        """One request, redirects not followed; its cookies are kept. → (status, headers, body text)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            all_headers = {**self.headers(), **(headers or {})}
            data = None
            if body is not None:
                data = urlencode(body)
                all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for value in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return response.status, response.headers, text
        finally:
            conn.close()

    def sign_in(self, username: str, password: str) -> None:
        """POST the login form once, with its CSRF cookie and token; every client then reuses the session."""
        status, _, html = self.request("GET", "/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if status != 200 or not match:
            raise SystemExit(f"bench: the login page answered {status} without a CSRF token")
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            body={"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)},
            headers={"Origin": self.origin, "Referer": f"{self.origin}/accounts/login/"},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"bench: signing in as {username!r} failed ({status}); is BENCH_PASSWORD right?")
        status, _, _ = self.request("GET", "/")
        if status != 200:
            raise SystemExit(f"bench: signed in as {username!r}, but the dashboard answered {status}")

    def warm(self, path: str, signed_in: bool) -> tuple[int, int | None]:
        """One request before measuring: its status and the number of SQL queries it made."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request("GET", path, headers=self.headers(signed_in))
            response = conn.getresponse()
            response.read()
            queries = response.headers.get("X-Queries")
            return response.status, int(queries) if queries is not None else None
        finally:
            conn.close()


async def _python_load(portal: Portal, path: str, signed_in: bool, seconds: float, clients: int):
    import aiohttp

    url = f"http://{portal.host}:{portal.port}{path}"
    headers = {**portal.headers(signed_in), "Connection": "close"}
    result = Measurement()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients, force_close=True)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
    ) as session:
        started = time.perf_counter()
        deadline = started + seconds
        last_done = started

        async def client():
            nonlocal last_done
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    async with session.get(url, headers=headers, allow_redirects=False) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    result.requests += 1
                    result.error(type(error).__name__)
                    continue
                finally:
                    last_done = time.perf_counter()
                result.requests += 1
                if 200 <= status < 300:
                    latencies.append(last_done - sent)
                else:
                    result.error(str(status))

        cpu = time.process_time()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.driver_cpu = time.process_time() - cpu
        result.elapsed = last_done - started
    result.p50, result.p95, result.p99 = (percentile(latencies, p) for p in (50, 95, 99))
    return result


def python_load(portal: Portal, path: str, signed_in: bool, seconds: float, clients: int) -> Measurement:
    """The fallback load generator (aiohttp), when wrk is not installed: ~4x the CPU per request of wrk."""
    return asyncio.run(_python_load(portal, path, signed_in, seconds, clients))


def wrk_load(portal: Portal, path: str, signed_in: bool, seconds: float, clients: int) -> Measurement:
    """wrk (C, one event-loop thread) with bench/wrk.lua, which writes the figures as JSON."""
    with tempfile.NamedTemporaryFile(prefix="bench-wrk-", suffix=".json") as out:
        command = [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={REQUEST_TIMEOUT:.0f}s",
        ]
        command += ["-s", str(BASE_DIR / "bench" / "wrk.lua")]
        for name, value in {**portal.headers(signed_in), "Connection": "close"}.items():
            command += ["-H", f"{name}: {value}"]
        command.append(f"http://{portal.host}:{portal.port}{path}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            command, env={**os.environ, "BENCH_WRK_OUT": out.name}, capture_output=True, text=True
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode:
            raise SystemExit(f"bench: wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
        figures = json.loads(Path(out.name).read_text())
    result = Measurement(
        requests=figures["requests"],
        elapsed=figures["duration_us"] / 1e6,
        driver_cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )
    answered = figures["requests"] - figures["non2xx"]
    if answered > 0:
        result.p50, result.p95, result.p99 = (figures[f"p{p}_us"] / 1e6 for p in (50, 95, 99))
    result.error("non-2xx", figures["non2xx"])
    for kind in ("connect", "read", "write", "timeout"):
        result.error(kind, figures[kind])
    # Failed attempts are not in wrk's count of answered requests; count them as requests too.
    result.requests += sum(figures[kind] for kind in ("connect", "read", "write", "timeout"))
    return result


# Both engines send `Connection: close`, a new connection per request, as gunicorn sees requests behind nginx
# (which speaks HTTP/1.0 to its upstream by default). It also spreads the load over both workers: a kept-alive
# connection sticks to whichever worker accepted it, so 16 of them may split unevenly (10/6, say), and
# differently from one run to the next, and two runs would differ by more than noise.
ENGINES = {"wrk": wrk_load, "python": python_load}


def measure(engine: str, portal: Portal, path: str, signed_in: bool, seconds: float, clients: int):
    """The page under load for `seconds`, after an unrecorded warm-up (new threads, pool connections)."""
    load = ENGINES[engine]
    if seconds >= 10:
        load(portal, path, signed_in, 2.0, clients)
    return load(portal, path, signed_in, seconds, clients)


# --- the server ---------------------------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    """Production settings (DEBUG=0, behind a TLS proxy), plus the bench view and query counter."""
    env = dict(os.environ)
    # The production settings module, whatever the caller uses (the test suite has its own).
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    env["DEBUG"] = "0"
    if env.get("SECRET_KEY", DEV_SECRET_KEY) == DEV_SECRET_KEY or len(env.get("SECRET_KEY", "")) < 32:
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["PORTAL_BENCH"] = "1"
    hosts = [h for h in env.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if hosts and "127.0.0.1" not in hosts:  # a server's own names: the driver calls 127.0.0.1
        env["ALLOWED_HOSTS"] = ",".join([*hosts, "127.0.0.1"])
    # Secure cookies, HSTS and the HTTPS redirect stay on (a development .env turns them off): the driver
    # says https in X-Forwarded-Proto, as the TLS proxy in front of gunicorn would.
    env["PORTAL_HTTPS"] = "1"
    env["BEHIND_PROXY"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"bench: manage.py {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout


class Gunicorn:
    def __init__(self, env: dict, port: int, workers: int, threads: int):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        command = [GUNICORN, "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        command += ["--threads", str(threads), "--graceful-timeout", "5", "--timeout", "120"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=self.log, stderr=self.log)

    def wait_ready(self, portal: Portal, timeout: float = 60.0) -> None:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: gunicorn exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if portal.warm("/_bench/trivial/", signed_in=False)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: gunicorn did not answer within {timeout:.0f} s:\n{self.tail()}")

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker (the master's children), from /proc."""
        sizes = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) != self.process.pid:
                    continue
                status = (stat.parent / "status").read_text()
            except (OSError, IndexError, ValueError):
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                sizes.append(round(int(match.group(1)) / 1024, 1))
        return sorted(sizes)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- the run ------------------------------------------------------------------------------------------------


def select_pages(patterns: str | None) -> list:
    """The pages whose name matches one of the comma-separated patterns (fnmatch); the trivial view always."""
    if not patterns:
        return list(PAGES)
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [p for p in PAGES if p.name == TRIVIAL or any(fnmatch.fnmatch(p.name, w) for w in wanted)]
    if len(chosen) == 1 and wanted != [TRIVIAL]:
        names = ", ".join(p.name for p in PAGES)
        raise SystemExit(f"bench: no page matches {patterns!r}; the pages are: {names}")
    return chosen


def format_table(results: dict, skipped: dict[str, str]) -> str:
    header = ("page", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "queries", "× trivial")
    rows = []
    for name, r in results.items():
        rows.append(
            (
                name,
                f"{r['rps']:.1f}",
                *("—" if r[k] is None else f"{r[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms")),
                str(r["errors"]),
                "—" if r["queries"] is None else str(r["queries"]),
                "—" if r["ratio_to_trivial"] is None else f"{r['ratio_to_trivial']:.3f}",
            )
        )
    rows += [(name, f"skipped: {why}", "", "", "", "", "", "") for name, why in skipped.items()]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [line(header), "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append(f"{row[0].ljust(widths[0])}  {row[1]}" if row[1].startswith("skipped") else line(row))
    return "\n".join(lines)


def report_line(name: str, summary: dict) -> None:
    print(
        f"  {name:<22} {summary['rps']:8.1f} req/s  p95 {summary['p95_ms']} ms  "
        f"errors {summary['errors']}  (driver CPU {summary['driver_cpu_percent']}%)",
        flush=True,
    )


def ceiling_drift(trivial: dict | None) -> float | None:
    """How much the trivial view's throughput changed from the start of the run to its end (0.1 = 10%)."""
    if not trivial or not trivial.get("rps_start") or not trivial.get("rps_end"):
        return None
    return round(
        abs(trivial["rps_start"] - trivial["rps_end"]) / max(trivial["rps_start"], trivial["rps_end"]), 3
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=float(env.get("BENCH_SECONDS", 20)))
    parser.add_argument("--pages", default=env.get("BENCH_PAGES"), help="e.g. 'customers*,warning_count'")
    parser.add_argument("--clients", type=int, default=int(env.get("BENCH_CLIENTS", CLIENTS)))
    parser.add_argument("--user", default=env.get("BENCH_USER", "dist-admin"))
    parser.add_argument("--password", default=env.get("BENCH_PASSWORD", "portal-demo"))
    parser.add_argument("--port", type=int, default=int(env.get("BENCH_PORT", 0)) or None)
    parser.add_argument("--workers", type=int, default=int(env.get("BENCH_WORKERS", WORKERS)))
    parser.add_argument("--threads", type=int, default=int(env.get("BENCH_THREADS", THREADS)))
    parser.add_argument("--out", type=Path, default=BASE_DIR / "bench" / "results.json")
    parser.add_argument(
        "--driver",
        choices=sorted(ENGINES),
        default=env.get("BENCH_DRIVER") or ("wrk" if shutil.which("wrk") else "python"),
        help="the load generator: wrk (the default when installed) or python (aiohttp)",
    )
    parser.add_argument("--no-collectstatic", action="store_true", help="the manifest is already current")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1:
        parser.error("--seconds must be positive and --clients at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pages = select_pages(args.pages)
    env = server_env()
    if not args.no_collectstatic:
        # DEBUG=0 serves hashed static files from the manifest, which must match the templates.
        manage(env, "collectstatic", "--no-input", "-v", "0")
    discovered = json.loads(manage(env, "bench_pages", "--user", args.user))
    port = args.port or free_port()
    portal = Portal(port)
    server = Gunicorn(env, port, args.workers, args.threads)
    results: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    try:
        server.wait_ready(portal)
        portal.sign_in(args.user, args.password)
        print(
            f"bench: gunicorn {args.workers} workers × {args.threads} threads on :{port}, "
            f"{args.clients} clients as {args.user}, {args.seconds:g} s per page, driver {args.driver}",
            flush=True,
        )
        for page in pages:
            path = discovered["pages"].get(page.name) or page.url(discovered["facts"])
            if path is None:
                skipped[page.name] = f"the data has no {', '.join(page.facts)}"
                continue
            status, queries = portal.warm(path, page.signed_in)
            run = measure(args.driver, portal, path, page.signed_in, args.seconds, args.clients)
            if not 200 <= status < 300:
                run.error(f"warm {status}")
            results[page.name] = {**run.summary(queries, None), "path": path}
            report_line(page.name, results[page.name])
        if TRIVIAL in results and len(results) > 1:
            # The ceiling again at the end: the mean of both is what the pages are divided by, and a
            # difference says the machine's load changed during the run (other work on the same cores).
            end = measure(args.driver, portal, results[TRIVIAL]["path"], False, args.seconds, args.clients)
            end_rps = end.summary(0, None)["rps"]
            report_line(f"{TRIVIAL} (again)", end.summary(0, None))
            start_rps = results[TRIVIAL]["rps"]
            results[TRIVIAL].update(
                rps=round((start_rps + end_rps) / 2, 1), rps_start=start_rps, rps_end=end_rps
            )
            results[TRIVIAL]["errors"] += end.errors
        ceiling = results.get(TRIVIAL, {}).get("rps")
        for figures in results.values():
            figures["ratio_to_trivial"] = round(figures["rps"] / ceiling, 3) if ceiling else None
        rss = server.worker_rss_mb()
    except BaseException:
        print(f"bench: stopped; the server's log ({server.log.name}) ends:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
    drift = ceiling_drift(results.get(TRIVIAL))
    failed = sum(r["errors"] for r in results.values())
    if failed:
        print(f"bench: {failed} errors; the server's log is {server.log.name}", file=sys.stderr)
    else:
        Path(server.log.name).unlink(missing_ok=True)
    report = {
        "pages": results,
        "skipped": skipped,
        "memory": {"worker_rss_mb": rss, "max_worker_rss_mb": max(rss, default=None), "target_mb": 250},
        "run": {
            "seconds": args.seconds,
            "clients": args.clients,
            "workers": args.workers,
            "threads": args.threads,
            "user": args.user,
            "driver": args.driver,
            "ceiling_drift": drift,
            "facts": discovered["facts"],
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "driver_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(format_table(results, skipped))
    print()
    print(f"gunicorn worker RSS after the run: {', '.join(f'{m:.0f} MB' for m in rss)} (target < 250 MB)")
    if drift is not None and drift > DRIFT_WARNING:
        print(
            f"The trivial view ran {drift:.0%} apart at the start and the end of the run: other work on this "
            "machine changed meanwhile, so compare these figures with care (or run again when it is quiet)."
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
