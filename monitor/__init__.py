"""pledge-monitor: watch company pledges and alert when their wording changes or they lapse."""

__version__ = "0.1.0"
