# One image for every Relay process: `relay api`, `relay worker`, `relay migrate`, `relay sandbox`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY activities activities
COPY api api
COPY apps apps
COPY journeys journeys
COPY relay relay
COPY runs runs
COPY sandbox sandbox
COPY worker worker
COPY workflows workflows
RUN pip install --no-cache-dir .
ENV RELAY_API_HOST=0.0.0.0 RELAY_SANDBOX_HOST=0.0.0.0
ENTRYPOINT ["relay"]
