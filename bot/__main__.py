"""Allow `python -m bot` as an alias of the `shopmate` command."""

from bot.cli import main

raise SystemExit(main())
