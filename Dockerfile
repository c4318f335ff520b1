# One image for every Relay process: `relay api`, `relay worker`, `relay migrate`, `relay sandbox`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY api api
COPY activities activities
COPY journeys journeys
COPY relay relay
COPY sandbox sandbox
COPY workflows workflows
RUN pip install --no-cache-dir .
ENV RELAY_API_HOST=0.0.0.0 RELAY_SANDBOX_HOST=0.0.0.0
ENTRYPOINT ["relay"]
