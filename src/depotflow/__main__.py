"""`python -m depotflow` runs the command-line interface."""

from depotflow.cli import main

raise SystemExit(main())
