"""The online decision service (`python -m ml serve`): applications decided one request at a time by the same
trusted champion (`ml.governance.trust`), validation, policy, hard rules and reasons as nightly scoring, each
decision journalled durably before it is answered. Modules: `body` (bounded parsing of a request), `auth` (per-
client tokens), `decide` (rows through the batch code), `batcher` (concurrent requests decided together),
`follower` (each process follows the champion), `journal` (the append-only decision log), `rollup` (the log into
the decisions zone), `metrics` (Prometheus text) and `app` (the FastAPI routes)."""
