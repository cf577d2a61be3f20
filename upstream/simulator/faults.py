"""Fault injection: latency, a share of 500s, 429 bursts and apply-then-time-out.

A fault set is a JSON object (every key optional):

    {"latency_ms": 200,
     "error_rate": 0.2,
     "burst_429": {"every": 20, "length": 3},
     "apply_then_timeout": {"operations": ["UpdateCustomerAccountAmount"], "rate": 1.0, "hang_seconds": 30},
     "seed": 1}

- latency_ms: added to every API call (admin endpoints excepted).
- error_rate: share (0..1) of API calls answered 500 CBC.0999 before anything is applied.
- burst_429: after every ``every`` API calls the next ``length`` get 429 CBC.0250, whatever the rate.
- apply_then_timeout: for the named operations, a share ``rate`` of successful calls is applied and
  committed, then the socket is held ``hang_seconds`` and closed without a response.
- seed: seeds the faults' own RNG (default: the simulator's --seed), reset whenever the set is replaced, so
  a run is repeatable.

The set comes from the environment at start (UPSTREAM_SIM_FAULTS holds a whole set; UPSTREAM_SIM_LATENCY_MS,
UPSTREAM_SIM_ERROR_RATE, UPSTREAM_SIM_BURST_429 ("N:K" or JSON), UPSTREAM_SIM_APPLY_THEN_TIMEOUT (JSON) and
UPSTREAM_SIM_FAULT_SEED override single keys) and at run time from POST/DELETE /_sim/faults.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

ENV_VARS = {
    "UPSTREAM_SIM_FAULTS": "a whole fault set as JSON",
    "UPSTREAM_SIM_LATENCY_MS": "latency_ms",
    "UPSTREAM_SIM_ERROR_RATE": "error_rate",
    "UPSTREAM_SIM_BURST_429": 'burst_429 as "N:K" or JSON',
    "UPSTREAM_SIM_APPLY_THEN_TIMEOUT": "apply_then_timeout as JSON",
    "UPSTREAM_SIM_FAULT_SEED": "seed of the faults' RNG",
}


class FaultConfigError(ValueError):
    """A fault set that does not validate."""


def _number(value: Any, name: str, *, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise FaultConfigError(f"{name} must be a number")
    if value < low or (high is not None and value > high):
        raise FaultConfigError(f"{name} must be between {low} and {high if high is not None else 'inf'}")
    return float(value)


def _integer(value: Any, name: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FaultConfigError(f"{name} must be an integer >= {low}")
    return value


def validate(raw: Any, known_operations: Collection[str]) -> dict[str, Any]:
    """A normalised copy of a fault set, or FaultConfigError."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FaultConfigError("the fault set must be a JSON object")
    allowed = {"latency_ms", "error_rate", "burst_429", "apply_then_timeout", "seed"}
    unknown = set(raw) - allowed
    if unknown:
        raise FaultConfigError(f"unknown fault(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if raw.get("latency_ms") is not None:
        out["latency_ms"] = _number(raw["latency_ms"], "latency_ms", low=0, high=600_000)
    if raw.get("error_rate") is not None:
        out["error_rate"] = _number(raw["error_rate"], "error_rate", low=0, high=1)
    if raw.get("burst_429") is not None:
        burst = raw["burst_429"]
        if not isinstance(burst, Mapping):
            raise FaultConfigError('burst_429 must be {"every": N, "length": K}')
        out["burst_429"] = {
            "every": _integer(burst.get("every"), "burst_429.every", low=0),
            "length": _integer(burst.get("length"), "burst_429.length", low=1),
        }
    if raw.get("apply_then_timeout") is not None:
        att = raw["apply_then_timeout"]
        if not isinstance(att, Mapping):
            raise FaultConfigError("apply_then_timeout must be an object")
        operations = att.get("operations")
        if (
            not isinstance(operations, list)
            or not operations
            or not all(isinstance(o, str) for o in operations)
        ):
            raise FaultConfigError(
                "apply_then_timeout.operations must be a non-empty list of operation names"
            )
        bad = [o for o in operations if o not in known_operations]
        if bad:
            raise FaultConfigError(f"apply_then_timeout.operations: unknown operation(s) {', '.join(bad)}")
        out["apply_then_timeout"] = {
            "operations": sorted(set(operations)),
            "rate": _number(att.get("rate", 1.0), "apply_then_timeout.rate", low=0, high=1),
            "hang_seconds": _number(
                att.get("hang_seconds", 30), "apply_then_timeout.hang_seconds", low=0, high=3600
            ),
        }
    if raw.get("seed") is not None:
        out["seed"] = _integer(raw["seed"], "seed", low=0)
    return out


def from_environment(environ: Mapping[str, str], known_operations: Collection[str]) -> dict[str, Any]:
    """The fault set given by UPSTREAM_SIM_* variables (see the module docstring)."""
    raw: dict[str, Any] = {}
    try:
        if environ.get("UPSTREAM_SIM_FAULTS"):
            loaded = json.loads(environ["UPSTREAM_SIM_FAULTS"])
            if not isinstance(loaded, dict):
                raise FaultConfigError("UPSTREAM_SIM_FAULTS must hold a JSON object")
            raw.update(loaded)
        if environ.get("UPSTREAM_SIM_LATENCY_MS"):
            raw["latency_ms"] = float(environ["UPSTREAM_SIM_LATENCY_MS"])
        if environ.get("UPSTREAM_SIM_ERROR_RATE"):
            raw["error_rate"] = float(environ["UPSTREAM_SIM_ERROR_RATE"])
        if environ.get("UPSTREAM_SIM_BURST_429"):
            value = environ["UPSTREAM_SIM_BURST_429"].strip()
            if value.startswith("{"):
                raw["burst_429"] = json.loads(value)
            else:
                every, _, length = value.partition(":")
                raw["burst_429"] = {"every": int(every), "length": int(length)}
        if environ.get("UPSTREAM_SIM_APPLY_THEN_TIMEOUT"):
            raw["apply_then_timeout"] = json.loads(environ["UPSTREAM_SIM_APPLY_THEN_TIMEOUT"])
        if environ.get("UPSTREAM_SIM_FAULT_SEED"):
            raw["seed"] = int(environ["UPSTREAM_SIM_FAULT_SEED"])
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise FaultConfigError(f"bad fault environment variable: {exc}") from exc
    return validate(raw, known_operations)


@dataclass(frozen=True)
class CallFaults:
    """What happens to one API call before it is handled."""

    latency_seconds: float = 0.0
    throttle: bool = False
    server_error: bool = False


class Faults:
    """The active fault set and its own seeded RNG; thread-safe."""

    def __init__(self, default_seed: int, known_operations: Collection[str]) -> None:
        self._lock = threading.Lock()
        self._default_seed = default_seed
        self._known = frozenset(known_operations)
        self.replace({})

    def replace(self, raw: Any) -> dict[str, Any]:
        """Validate and install a new set (raises FaultConfigError); resets the RNG and counters."""
        config = validate(raw, self._known)
        with self._lock:
            self._config = config
            self._rng = random.Random(f"faults:{config.get('seed', self._default_seed)}")
            self._calls = 0
        return dict(config)

    def current(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._config))

    def on_call(self) -> CallFaults:
        """Decide latency, burst throttling and a server error for the next API call."""
        with self._lock:
            config = self._config
            if not config:
                return CallFaults()
            n = self._calls
            self._calls += 1
            throttle = False
            burst = config.get("burst_429")
            if burst:
                throttle = n % (burst["every"] + burst["length"]) >= burst["every"]
            server_error = False
            if not throttle and config.get("error_rate"):
                server_error = self._rng.random() < config["error_rate"]
            return CallFaults(config.get("latency_ms", 0) / 1000.0, throttle, server_error)

    def hang_for(self, operation: str) -> float | None:
        """Seconds to hold the socket after applying ``operation``, or None to answer normally."""
        with self._lock:
            att = self._config.get("apply_then_timeout")
            if not att or operation not in att["operations"]:
                return None
            if att["rate"] < 1 and self._rng.random() >= att["rate"]:
                return None
            return att["hang_seconds"]
