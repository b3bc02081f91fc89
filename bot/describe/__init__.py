"""Product descriptions in ThreadCo's voice: one product, a live catalogue run, or a Message Batch.

The pieces, one concern each:
- `prompt`: the voice, the few-shot file, request params, and the hash that keys stored results;
- `voice`: checks every description against the house rules;
- `catalogue`: reads products.csv (bad rows by line number) and writes descriptions.csv;
- `service`: `Copywriter`, one product end to end (stored result, call, check, one retry, store);
  every front (CLI, batch collect, the HTTP API's `POST /describe`) goes through it;
- `live`: many products at once, bounded concurrency, resumable;
- `batch`: submit / status / collect with the Message Batches API.
"""

from bot.describe.catalogue import Product
from bot.describe.prompt import Prompt, load_prompt
from bot.describe.service import Copywriter, Outcome

__all__ = ["Copywriter", "Outcome", "Product", "Prompt", "load_prompt"]
