"""The dashboard and JSON API of ``pledge-monitor serve``: reads through the Store only."""
