"""The API's routes, one router per group; `create_app` (bot/api/app.py) includes them in order.

- `health`: `GET /healthz`;
- `conversations`: `GET /conversations/{id}`, the stored transcript;
- `chat`: `POST /chat` and `POST /chat/stream` (server-sent events), one turn each;
- `describe`: `POST /describe`, a product description through the CLI's `Copywriter`.

Shared state and the key check are dependencies in bot/api/deps.py.
"""
