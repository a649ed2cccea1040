#!/usr/bin/env python
"""Django's command-line utility, with configuration and database problems reported in one line."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    from platform_site.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        sys.exit(f"chainlake: configuration error: {exc}")
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.exit(f"chainlake: cannot use the database: {reason}")


if __name__ == "__main__":
    main()
