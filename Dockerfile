# pledge-monitor: runs `pledge-monitor run` as a non-root user, the database on a volume.
#   docker build -t pledge-monitor .
#   docker run -d -v pledge-data:/data -v "$PWD/watchlist.yaml:/config/watchlist.yaml:ro" \
#     -e SLACK_TOKEN_A=... pledge-monitor
# For watchlists with browser: true sources, the browser variant adds Debian's chromium:
#   docker build --target browser -t pledge-monitor:browser .
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY migrations ./migrations
RUN pip install ".[postgres]"

RUN useradd --create-home --uid 10001 monitor \
    && mkdir -p /data /config \
    && chown monitor:monitor /data
COPY watchlist.yaml /config/watchlist.yaml

USER monitor
VOLUME ["/data"]
ENV PLEDGE_MONITOR_DB=sqlite:////data/pledge-monitor.db \
    PLEDGE_MONITOR_WATCHLIST=/config/watchlist.yaml

HEALTHCHECK --interval=5m --timeout=30s --start-period=2m \
    CMD ["pledge-monitor", "status", "--health"]

ENTRYPOINT ["pledge-monitor"]
CMD ["run"]

# The browser variant: Chromium from Debian's packages, driven through Playwright; nothing is
# downloaded when it runs. Chromium's shared memory goes to /tmp (--disable-dev-shm-usage).
FROM base AS browser
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
RUN pip install ".[postgres,browser]"
ENV PLEDGE_MONITOR_CHROMIUM=/usr/bin/chromium
USER monitor

# The default image (no --target): the main one, without a browser.
FROM base AS main
