"""The gateway: HTTP API, live event streams, Prometheus metrics and the dashboard, over Redis."""
