"""Test harness: run the simulator as a subprocess on a free loopback port and drive its admin endpoints.

    with SimulatorProcess(data_dir=tmp_path) as sim:
        sim.set_faults(error_rate=0.5)
        ... call sim.url with a signed client ...

Standard library only, like the simulator.
"""

from __future__ import annotations

import json as jsonlib
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_URL_PREFIX = "UPSTREAM_SIM_URL="


class SimulatorError(RuntimeError):
    """The simulator did not start, or an admin call failed."""


class SimulatorProcess:
    """One simulator subprocess with its own data directory."""

    def __init__(
        self,
        *,
        customers: int = 60,
        seed: int = 7,
        resellers: int = 2,
        data_dir: str | os.PathLike[str],
        warning_interval: float = 0,
        rate_limit: float = 10.0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.customers = customers
        self.seed = seed
        self.resellers = resellers
        self.data_dir = Path(data_dir)
        self.warning_interval = warning_interval
        self.rate_limit = rate_limit
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.url: str = ""
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    # ---- process -------------------------------------------------------------------------------------

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "upstream.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--seed",
            str(self.seed),
            "--customers",
            str(self.customers),
            "--resellers",
            str(self.resellers),
            "--warning-interval",
            str(self.warning_interval),
            "--rate-limit",
            str(self.rate_limit),
            *self.extra_args,
        ]

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        """Start the subprocess and wait until it answers /_sim/health."""
        if self._process is not None:
            raise SimulatorError("the simulator is already running")
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.output = []
        self._process = subprocess.Popen(
            self.command(),
            cwd=_PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, args=(self._process, lines), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        url = ""
        while not url:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail("did not print its URL in time")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self._process.poll() is not None:
                    self._fail(f"exited with status {self._process.returncode}")
                continue
            if line is None:
                self._process.wait(timeout=5)
                self._fail(f"exited with status {self._process.returncode}")
            elif line.startswith(_URL_PREFIX):
                url = line[len(_URL_PREFIX) :].strip()
        self.url = url
        while True:
            try:
                if self.admin("GET", "/_sim/health") == {"ok": True}:
                    return self
            except (SimulatorError, OSError):
                pass
            if time.monotonic() > deadline or self._process.poll() is not None:
                self._fail("did not answer /_sim/health")
            time.sleep(0.05)

    def _pump(self, process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def _fail(self, why: str) -> None:
        output = "".join(self.output)
        self.stop()
        raise SimulatorError(f"upstream simulator {why}; command {' '.join(self.command())}\n{output}")

    def stop(self) -> None:
        """Terminate the subprocess (SIGTERM, then SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same data directory (the store persists; the port may change)."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- admin endpoints -----------------------------------------------------------------------------

    def admin(self, method: str, path: str, json: Any = None) -> dict | list | None:
        """Call an admin endpoint under /_sim/ and return its decoded JSON body."""
        if not self.url:
            raise SimulatorError("the simulator is not started")
        data = None if json is None else jsonlib.dumps(json).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method.upper())  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback URL
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise SimulatorError(
                f"{method} {path} -> {exc.code}: {exc.read().decode('utf-8', 'replace')}"
            ) from exc
        return jsonlib.loads(body) if body else None

    def scale(self, count: int, resellers: int = 20) -> dict:
        """seed_scale's bulk load: customers with balances, warnings, association and adjust records."""
        return self.admin("POST", "/_sim/scale", {"count": count, "resellers": resellers})  # type: ignore[return-value]

    def set_faults(self, **faults: Any) -> None:
        """Replace the fault set, e.g. set_faults(error_rate=0.3, latency_ms=50)."""
        self.admin("POST", "/_sim/faults", faults)

    def clear_faults(self) -> None:
        """No faults, and the rate limit given to __init__."""
        self.admin("DELETE", "/_sim/faults")
        self.set_rate_limit(self.rate_limit)

    def set_rate_limit(self, per_second: float) -> None:
        self.admin("POST", "/_sim/rate-limit", {"per_second": per_second})

    def state(self) -> dict:
        return self.admin("GET", "/_sim/state")  # type: ignore[return-value]

    def tick(self, warnings: int = 1, associations: int = 0) -> None:
        """Generate new warnings (and associations: new customers) now."""
        self.admin("POST", "/_sim/tick", {"warnings": warnings, "associations": associations})

    def remove_customer(self, customer_id: str) -> None:
        """The customer vanishes upstream, as if disassociated on the platform."""
        self.admin("POST", f"/_sim/customers/{customer_id}/remove", {})

    def adjust_records(self, customer_id: str | None = None) -> list[dict]:
        """Every adjust record (all partners), optionally of one customer, oldest first."""
        query = f"?customer_id={customer_id}" if customer_id else ""
        return self.admin("GET", f"/_sim/adjust-records{query}")  # type: ignore[return-value]

    def add_customers(self, count: int, indirect_partner_id: str | None = None) -> None:
        body: dict[str, Any] = {"count": count}
        if indirect_partner_id:
            body["indirect_partner_id"] = indirect_partner_id
        self.admin("POST", "/_sim/customers", body)

    def patch_rows(self, table: str, where: dict[str, Any], **values: Any) -> int:
        """Overwrite columns of stored rows: patch_rows("customers", {"customer_id": c}, customer="x")."""
        answer = self.admin("POST", f"/_sim/rows/{table}", {"where": where, "set": values})
        return answer["updated"]  # type: ignore[index]
