"""Allow `python -m vision_collapse ...`."""

from vision_collapse.cli import main

raise SystemExit(main())
