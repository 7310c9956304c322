"""The HTTP edge: the Flask app, the pipeline every request goes through, the poll
lane, the admin API and dashboard, the console; webhooks out (ARCHITECTURE.md, Layers)."""
