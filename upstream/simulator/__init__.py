"""Upstream simulator: Huawei Cloud's BSS partner API (docs/upstream.md) as a separate local program.

Run it with ``python -m upstream.simulator`` (or ``manage.py run_upstream_sim``); ``--help`` lists the
options. It imports nothing of the portal, only the standard library, and keeps the platform's state in a
SQLite file under ``--data-dir`` that survives a restart (``--reset`` regenerates it from ``--seed``).

Demo world: access key ``demo-ak``, secret key ``demo-sk``, domain id ``demo-distributor`` (the
distributor); resellers ``ip-reseller-a`` ("Reseller A"), ``ip-reseller-b`` ("Reseller B"), …

Fault injection, set at start by environment variables and at run time through ``/_sim/faults``:

- ``UPSTREAM_SIM_FAULTS``: a whole fault set as JSON (see faults.py for its keys);
- ``UPSTREAM_SIM_LATENCY_MS``: milliseconds added to every API call;
- ``UPSTREAM_SIM_ERROR_RATE``: share (0..1) of API calls answered 500 CBC.0999 before anything is applied;
- ``UPSTREAM_SIM_BURST_429``: ``N:K`` (or ``{"every": N, "length": K}``): after every N API calls the next K
  get 429 CBC.0250;
- ``UPSTREAM_SIM_APPLY_THEN_TIMEOUT``: JSON ``{"operations": [...], "rate": 0..1, "hang_seconds": 30}``: the
  change is applied and committed, then the socket is held and closed without a response;
- ``UPSTREAM_SIM_FAULT_SEED``: seed of the faults' own RNG (default: ``--seed``).

Admin endpoints (no signature, no rate limit, loopback only): ``GET /_sim/health``, ``GET|POST|DELETE
/_sim/faults``, ``POST /_sim/rate-limit``, ``GET /_sim/state``, ``POST /_sim/tick``, ``POST /_sim/customers``,
``POST /_sim/customers/<customer_id>/remove``, ``GET /_sim/adjust-records?customer_id=…``,
``POST /_sim/trade-limit`` with ``{"per_day": n}`` (payments per customer per UTC day before CBC.99008056),
``POST /_sim/rows/<table>`` with ``{"where": {column: value}, "set": {column: value}}`` (overwrite
stored rows, e.g. to plant hostile text in any dataset); onboarding (onboarding.py):
``GET /_sim/onboarding/verification-codes?mobile_phone=…`` (the SMS codes "sent"), ``POST
/_sim/onboarding/review`` with ``{"delay_seconds": n, "outcome": "auto"|"approve"|"reject"}``, ``POST
/_sim/onboarding/review/finish`` and ``POST /_sim/onboarding/objects`` with ``{"objects": {path: bytes}}``.
"""

from __future__ import annotations


def main(argv=None) -> int:
    """Run the simulator (see server.main)."""
    from .server import main as run

    return run(argv)
