"""`python -m actors.cli`: the `stonks` command, as the supervisor starts the dashboard and metrics."""

from actors.cli import main

main()
