"""``pledge-monitor demo``: the whole product, offline, on a timeline of real pledges."""
