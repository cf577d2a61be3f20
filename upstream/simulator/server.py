"""The HTTP side: request pipeline, admin endpoints under /_sim/, the background warning feed, main()."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import api, faults, onboarding, signing
from .errors import ApiError, bad_request
from .generate import ACCESS_KEY, DISTRIBUTOR_ID, SECRET_KEY
from .ratelimit import SlidingWindowLimiter
from .store import Store

MAX_BODY = 1_000_000


class Simulator:
    """Everything a request handler needs: the store, credentials, limiter, faults and counters."""

    def __init__(self, store: Store, *, rate_limit: float, fault_set: dict[str, Any], seed: int) -> None:
        self.store = store
        self.secrets = {ACCESS_KEY: SECRET_KEY}
        self.domain_id = DISTRIBUTOR_ID
        self.limiter = SlidingWindowLimiter(rate_limit)
        self.faults = faults.Faults(seed, api.OPERATIONS)
        self.faults.replace(fault_set)
        self.stopping = threading.Event()
        self._counter_lock = threading.Lock()
        self.counters: Counter[str] = Counter()
        self.calls_by_operation: Counter[str] = Counter()

    def count(self, key: str, operation: str | None = None) -> None:
        with self._counter_lock:
            self.counters[key] += 1
            if operation:
                self.calls_by_operation[operation] += 1

    def state(self) -> dict[str, Any]:
        state = self.store.state()
        with self._counter_lock:
            state["api_calls"] = self.counters["api_calls"]
            state["throttled_429"] = self.counters["throttled_429"]
            state["server_errors_500"] = self.counters["server_errors_500"]
            state["unauthorized_401"] = self.counters["unauthorized_401"]
            state["timeouts_injected"] = self.counters["timeouts_injected"]
            state["calls_by_operation"] = dict(self.calls_by_operation)
        state["rate_limit"] = self.limiter.per_second
        state["faults"] = self.faults.current()
        return state


class _Throttled(ApiError):
    """429 CBC.0250, with the seconds to wait for the Retry-After header."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "CBC.0250", "Flow control: too many requests, retry later.")
        self.retry_after = retry_after


class _Hang(Exception):
    """Apply-then-time-out: hold the socket, then close it without a response."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms delayed-ACK stalls
    server_version = "upstream-sim/1"
    sim: Simulator  # set on the subclass made by make_server
    access_log = False

    # ---- plumbing ----------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.access_log:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method…) get the JSON error body too."""
        self.close_connection = True
        text = message or self.responses.get(code, ("Error",))[0]
        self._send(
            code,
            {"error_code": "CBC.0999" if code >= 500 else "CBC.0100", "error_msg": text},
            uuid.uuid4().hex,
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise bad_request("Request body too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise bad_request("Request body too large.")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, request_id: str, extra: dict[str, str] | None = None) -> None:
        if body is api.EMPTY:
            payload = b""
        else:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("X-Request-Id", request_id)
        if payload:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _lower_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.headers.items():
            name = key.lower()
            if name in out:
                continue
            # http.server decodes header bytes as latin-1; the signer signed the UTF-8 text.
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                value = value.encode("latin-1").decode("utf-8")
            out[name] = value
        return out

    def _dispatch(self) -> None:
        request_id = uuid.uuid4().hex
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except (ApiError, ValueError) as exc:
            self.close_connection = True
            err = exc if isinstance(exc, ApiError) else bad_request("Malformed request body.")
            self._send(err.status, err.body(), request_id)
            return
        try:
            if split.path.startswith("/_sim/") or split.path == "/_sim":
                status, payload, extra = self._admin(split.path, split.query, body)
            else:
                status, payload, extra = self._api(split.path, split.query, body)
        except _Hang as hang:
            self.sim.count("timeouts_injected")
            self.sim.stopping.wait(hang.seconds)
            self.close_connection = True
            return
        except ApiError as exc:
            status, payload, extra = exc.status, exc.body(), {}
            if isinstance(exc, _Throttled):
                extra = {"Retry-After": str(exc.retry_after)}
        except Exception as exc:  # a bug in the simulator: answer like the platform would
            print(f"upstream-sim: internal error on {self.command} {split.path}: {exc!r}", file=sys.stderr)
            status, payload, extra = 500, {"error_code": "CBC.0999", "error_msg": "Internal error."}, {}
        self._send(status, payload, request_id, extra)

    # ---- the API pipeline ------------------------------------------------------------------------------

    def _api(self, path: str, query: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        sim = self.sim
        sim.count("api_calls")
        found = api.match(self.command, path)
        if found is None:
            raise ApiError(404, "APIGW.0101", f"The API {self.command} {path} does not exist.")
        route, path_args = found
        sim.count("calls", route.name)
        headers = self._lower_headers()
        try:
            access_key = signing.verify(
                method=self.command,
                raw_path=path,
                raw_query=query,
                headers=headers,
                body=body,
                secrets=sim.secrets,
            )
        except signing.SignatureError as exc:
            sim.count("unauthorized_401")
            raise ApiError(401, "APIGW.0301", f"Incorrect IAM authentication information: {exc}") from None
        if headers.get("x-domain-id", "").strip() != sim.domain_id:
            raise ApiError(403, "CBC.0151", "Access denied: X-Domain-Id does not match the credentials.")

        call = sim.faults.on_call()
        if call.latency_seconds:
            sim.stopping.wait(call.latency_seconds)
        retry_after = sim.limiter.acquire((access_key, route.name))
        if retry_after is None and call.throttle:
            retry_after = 1
        if retry_after is not None:
            sim.count("throttled_429")
            raise _Throttled(retry_after)
        if call.server_error:
            sim.count("server_errors_500")
            raise ApiError(500, "CBC.0999", "Internal error (injected fault).")

        params = self._params(query, body)
        params.language = headers.get("x-language")
        args = {k: unquote(v) for k, v in path_args.items()}
        result = route.handler(sim.store, params, **args)
        hang = sim.faults.hang_for(route.name)
        if hang is not None:
            raise _Hang(hang)
        return 200, result, {}

    def _params(self, query: str, body: bytes) -> api.Params:
        if self.command == "GET":
            return api.Params(dict(signing.parse_query(query)))
        if not body.strip():
            return api.Params({})
        try:
            data = json.loads(body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        return api.Params(data)

    # ---- admin ---------------------------------------------------------------------------------------

    def _admin(self, path: str, query: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            raise ApiError(403, "CBC.0151", "The admin endpoints answer on loopback only.")
        sim = self.sim
        data: Any = None
        if body.strip():
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise bad_request("The request body is not valid JSON.") from None
        if data is not None and not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        data = data or {}
        method, parts = self.command, path.strip("/").split("/")[1:]

        if method == "GET" and parts == ["health"]:
            return 200, {"ok": True}, {}
        if parts == ["faults"]:
            if method == "GET":
                return 200, sim.faults.current(), {}
            if method in ("POST", "PUT"):
                try:
                    return 200, sim.faults.replace(data), {}
                except faults.FaultConfigError as exc:
                    raise bad_request(str(exc)) from None
            if method == "DELETE":
                return 200, sim.faults.replace({}), {}
        if method == "POST" and parts == ["rate-limit"]:
            rate = data.get("per_second")
            if isinstance(rate, bool) or not isinstance(rate, int | float):
                raise bad_request("per_second must be a number >= 0 (0 switches the limit off).")
            try:
                sim.limiter.set_rate(rate)
            except ValueError as exc:
                raise bad_request(str(exc)) from None
            return 200, {"per_second": sim.limiter.per_second}, {}
        if method == "GET" and parts == ["state"]:
            return 200, sim.state(), {}
        if method == "POST" and parts == ["tick"]:
            counts = [data.get("warnings", 1), data.get("associations", 0)]
            if any(isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10_000 for n in counts):
                raise bad_request("warnings and associations must be integers from 0 to 10000.")
            return 200, sim.store.tick(*counts), {}
        if method == "GET" and parts == ["adjust-records"]:
            customer_id = dict(signing.parse_query(query)).get("customer_id")
            return 200, sim.store.raw_adjust_records(customer_id), {}
        if method == "POST" and parts == ["customers"]:
            count, partner = data.get("count", 1), data.get("indirect_partner_id")
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
                raise bad_request("count must be an integer from 1 to 100000.")
            if partner is not None:
                sim.store.scope(partner)
            return 200, {"customer_ids": sim.store.add_customers(count, partner)}, {}
        if method == "POST" and parts == ["scale"]:
            # seed_scale: customers with their balances, warnings, association and adjust records, in bulk.
            # At most 10,000 customers a call: one call holds its ~160,000 rows in memory until they commit.
            count, resellers = data.get("count"), data.get("resellers", 20)
            orders = data.get("orders_per_customer", 0)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
                raise bad_request("count must be an integer from 1 to 10000.")
            if isinstance(resellers, bool) or not isinstance(resellers, int) or not 0 <= resellers <= 500:
                raise bad_request("resellers must be an integer from 0 to 500.")
            if isinstance(orders, bool) or not isinstance(orders, int) or not 0 <= orders <= 20:
                raise bad_request("orders_per_customer must be an integer from 0 to 20.")
            return 200, sim.store.add_scale_customers(count, resellers, orders), {}
        if method == "POST" and parts == ["trade-limit"]:
            per_day = data.get("per_day")
            if isinstance(per_day, bool) or not isinstance(per_day, int) or not 0 <= per_day <= 100_000:
                raise bad_request("per_day must be an integer from 0 to 100000.")
            return 200, {"per_day": sim.store.set_trade_limit(per_day)}, {}
        if method == "POST" and len(parts) == 3 and parts[0] == "customers" and parts[2] == "remove":
            record_id = sim.store.remove_customer(unquote(parts[1]))
            if record_id is None:
                raise ApiError(404, "CBC.0100", f"No associated customer {parts[1]}.")
            return 200, {"ok": True, "record_id": record_id}, {}
        if parts and parts[0] == "onboarding":
            query_args = dict(signing.parse_query(query))
            return 200, onboarding.admin(sim.store, method, parts[1:], query_args, data), {}
        if method == "POST" and len(parts) == 2 and parts[0] == "rows":
            # Tests plant hostile values in stored rows: {"where": {column: value}, "set": {column: value}}.
            where, values = data.get("where"), data.get("set")
            if not isinstance(where, dict) or not isinstance(values, dict):
                raise bad_request('The body must be {"where": {...}, "set": {...}}.')
            return 200, {"updated": sim.store.patch_rows(unquote(parts[1]), where, values)}, {}
        raise ApiError(404, "APIGW.0101", f"No admin endpoint {method} {path}.")


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default of 5 resets bursts of concurrent connections


def make_server(sim: Simulator, host: str, port: int, *, access_log: bool = False) -> SimulatorServer:
    handler = type("BoundHandler", (Handler,), {"sim": sim, "access_log": access_log})
    server_cls = SimulatorServer
    if ":" in host:
        server_cls = type("SimulatorServer6", (SimulatorServer,), {"address_family": socket.AF_INET6})
    return server_cls((host, port), handler)


def warning_feed(sim: Simulator, interval: float) -> None:
    """Every ``interval`` seconds, new warnings (and now and then a new customer) arrive."""
    while not sim.stopping.wait(interval):
        try:
            sim.store.tick()
        except Exception as exc:
            print(f"upstream-sim: warning feed failed: {exc!r}", file=sys.stderr)


HELP_EPILOG = (
    "Fault injection from the environment (also settable at run time with POST /_sim/faults):\n"
    + "\n".join(f"  {name:32} {what}" for name, what in faults.ENV_VARS.items())
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared with manage.py run_upstream_sim)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001; 0 picks a free one)")
    parser.add_argument("--data-dir", default="var/upstream-sim", help="where the SQLite store lives")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated world (default 42)")
    parser.add_argument("--customers", type=int, default=300, help="customers to generate (default 300)")
    parser.add_argument(
        "--resellers", type=int, default=2, help="resellers under the distributor (default 2)"
    )
    parser.add_argument(
        "--warning-interval",
        type=float,
        default=20.0,
        help="seconds between new warnings arriving (default 20; 0 disables)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=10.0,
        help="requests per second per (access key, operation) (default 10; 0 = off)",
    )
    parser.add_argument("--reset", action="store_true", help="regenerate the store even if it matches")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m upstream.simulator",
        description=(
            "Upstream simulator: Huawei Cloud's BSS partner API (see docs/upstream.md) on one machine, "
            "with a persistent deterministic world, AK/SK signature checks, flow control and fault injection."
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def _validate(options: argparse.Namespace) -> str | None:
    if not 0 <= options.port <= 65535:
        return "--port must be 0..65535"
    if not 0 <= options.customers <= 2_000_000:
        return "--customers must be 0..2000000"
    if not 0 <= options.resellers <= 500:
        return "--resellers must be 0..500"
    if options.warning_interval < 0:
        return "--warning-interval must be >= 0"
    if options.rate_limit < 0:
        return "--rate-limit must be >= 0"
    return None


def main(argv: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; argv is a list of arguments or parsed options."""
    options = argv if isinstance(argv, argparse.Namespace) else build_parser().parse_args(argv)
    problem = _validate(options)
    if problem:
        print(f"upstream-sim: {problem}", file=sys.stderr)
        return 2
    try:
        fault_set = faults.from_environment(os.environ, api.OPERATIONS)
    except faults.FaultConfigError as exc:
        print(f"upstream-sim: {exc}", file=sys.stderr)
        return 2

    started = time.monotonic()
    store = Store(
        Path(options.data_dir),
        seed=options.seed,
        customers=options.customers,
        resellers=options.resellers,
        reset=options.reset,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if store.generated:
        print(
            f"upstream-sim: generated {options.customers} customers (seed {options.seed}) "
            f"in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
    sim = Simulator(store, rate_limit=options.rate_limit, fault_set=fault_set, seed=options.seed)
    server = make_server(sim, options.host, options.port, access_log=options.access_log)
    port = server.server_address[1]
    host = "127.0.0.1" if options.host in ("0.0.0.0", "") else options.host  # noqa: S104 - a display name
    url_host = f"[{host}]" if ":" in host else host

    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    serving = threading.Thread(target=server.serve_forever, name="upstream-sim-http", daemon=True)
    serving.start()
    feed = None
    if options.warning_interval > 0:
        feed = threading.Thread(
            target=warning_feed, args=(sim, options.warning_interval), name="upstream-sim-feed", daemon=True
        )
        feed.start()

    print(f"UPSTREAM_SIM_URL=http://{url_host}:{port}", flush=True)
    print(
        f"UPSTREAM_SIM_AK={ACCESS_KEY}",
        f"UPSTREAM_SIM_SK={SECRET_KEY}",
        f"UPSTREAM_SIM_DOMAIN_ID={DISTRIBUTOR_ID}",
        f"UPSTREAM_SIM_RESELLERS={','.join(store.reseller_ids)}",
        sep="\n",
        flush=True,
    )
    current = sim.faults.current()
    print(
        f"upstream-sim: data {store.path}; rate limit {options.rate_limit:g}/s per operation; "
        f"faults {json.dumps(current) if current else 'none'}",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stopping.set()
        server.shutdown()
        server.server_close()
        if feed:
            feed.join(timeout=5)
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("upstream-sim: stopped", file=sys.stderr, flush=True)
    return 0
