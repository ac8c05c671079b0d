# The center's image: API and sockets (`up`) or a dispatcher (`worker`), against external Redis/PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY center ./center
COPY core ./core
COPY alerts ./alerts
COPY units ./units
COPY dispatch ./dispatch
COPY realtime ./realtime
COPY web ./web
RUN pip install . && useradd --system --uid 10001 --home-dir /app dispatch
USER dispatch
EXPOSE 8000
CMD ["dispatch-center", "up", "--host", "0.0.0.0", "--port", "8000"]
