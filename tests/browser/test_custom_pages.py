"""Every custom admin page (SQL console, datasets, backfill, backtest, test-fire, label import,
personal-data registry, DAGs, record tables, the job page's tabs) is built from the theme's own
components: its inputs, buttons and table cells compute to the same border, padding, background and
font as a theme changelist's, it logs no console error and asks no outside host.

With ``CHAINLAKE_SCREENSHOTS=1`` each page's screenshot (1440×900) is refreshed under ``docs/``.
"""
