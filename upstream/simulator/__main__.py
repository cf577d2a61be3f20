"""``python -m upstream.simulator``: run the upstream simulator."""

from upstream.simulator.server import main

raise SystemExit(main())
