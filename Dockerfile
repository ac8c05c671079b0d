# The center's image: API and sockets (`up`) or a dispatcher (`worker`), against external Redis/PostgreSQL.

# the pages' libraries (map, API docs), from web/static's package-lock; Node.js 24 is an LTS release
FROM node:24-slim AS pages
WORKDIR /static
COPY web/static/package.json web/static/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY center ./center
COPY core ./core
COPY roads ./roads
COPY alerts ./alerts
COPY cases ./cases
COPY accounts ./accounts
COPY units ./units
COPY dispatch ./dispatch
COPY realtime ./realtime
COPY web ./web
COPY simulation ./simulation
COPY bench ./bench
COPY reports ./reports
COPY --from=pages /static/node_modules ./web/static/node_modules
# the locked versions of the base dependencies only: no embedded servers, no test tools. An editable
# install serves web/static (with its node_modules) from /app
RUN pip install -c requirements.lock -e '.[tracing]' && groupadd --system --gid 10001 dispatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app dispatch \
    && mkdir -p /var/lib/dispatch/attachments /var/lib/dispatch/metrics \
    && chown -R 10001:10001 /var/lib/dispatch
# grid-report photos and videos: mount a volume here (docker-compose.yml does)
ENV DISPATCH_DATA_DIR=/var/lib/dispatch DISPATCH_ATTACHMENTS_PATH=/var/lib/dispatch/attachments
# numeric, so that a cluster's "run as non-root" policy can check it without reading /etc/passwd
USER 10001:10001
EXPOSE 8000
CMD ["dispatch-center", "up", "--host", "0.0.0.0", "--port", "8000"]
