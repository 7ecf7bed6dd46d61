"""``python -m analytics``: the report (see :mod:`analytics.report`)."""

from analytics.report import main

raise SystemExit(main())
