"""``python -m lynq_bridge``: the same entry point as the ``lynq-bridge`` script."""

from lynq_bridge.cli import main

raise SystemExit(main())
