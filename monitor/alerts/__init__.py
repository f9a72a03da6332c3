"""Alerts: Events rendered into messages (``render``), sent through apprise (``send``, the only
module that imports it, and only when a message goes out), and the outbox delivered with retries
and daily digests (``deliver``)."""
