# pledge-monitor: runs `pledge-monitor run` as a non-root user, the database on a volume.
#   docker build -t pledge-monitor .
#   docker run -d -v pledge-data:/data -v "$PWD/watchlist.yaml:/config/watchlist.yaml:ro" \
#     -e SLACK_TOKEN_A=... pledge-monitor
FROM python:3.11-slim

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
