"""Synthetic Singer input for the read benchmark: conversations, parts and contacts whose text
holds words of known frequency (rare, medium, common), in the tap's output shapes.

The records come from `benchmarks/target/generate.py`; only the bodies are replaced, by text
from a fixed vocabulary, so that each query word's share of the parts is known.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.target import generate

STATE_EVERY = generate.STATE_EVERY
# Words by how many parts hold them: each rare word about 4 parts in 2,000,000, each medium
# word 0.5 % of the parts, each common word about a third.
RARE = tuple(f"zephyrine{n:03d}" for n in range(200))
MEDIUM = ("invoice", "chargeback", "passport", "migration", "webhook", "timezone")
COMMON = ("order", "thanks", "account")
_FILLER = (*(f"w{n:04d}" for n in range(4000)), "hello", "please", "naïve", "déjà", "🙂")


def _body(rng: random.Random, rare_every: int) -> str:
    words = [rng.choice(_FILLER) for _ in range(rng.randrange(6, 24))]
    for word in COMMON:
        if rng.random() < 1 / 3:
            words.insert(rng.randrange(len(words) + 1), word)
    for word in MEDIUM:
        if rng.random() < 0.005:
            words.insert(rng.randrange(len(words) + 1), word)
    if rng.randrange(rare_every) == 0:
        words.insert(rng.randrange(len(words) + 1), rng.choice(RARE))
    return "<p>" + " ".join(words) + "</p>"


def write(path: Path, conversations: int, parts_each: int, contacts: int, seed: int = 13) -> int:
    """Contacts, then conversations each followed by its parts; returns the record count."""
    rng = random.Random(seed)
    total_parts = conversations * parts_each
    rare_every = max(1, total_parts // (len(RARE) * 4))
    records = 0
    with path.open("w") as out:
        for stream in ("contacts", "conversations", "conversation_parts"):
            out.write(generate._schema_line(stream) + "\n")
        for n in range(contacts):
            out.write(generate._record_line("contacts", generate.contact(rng, n)) + "\n")
            records += 1
            if (n + 1) % STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"contacts": n}}) + "\n")
        for n in range(conversations):
            record = generate.conversation(rng, n, parts_each)
            record["source"]["body"] = _body(rng, rare_every)
            out.write(generate._record_line("conversations", record) + "\n")
            for i in range(parts_each):
                part = generate.part(rng, record, i)
                part["id"] = f"{record['id']}{i:04d}"
                part["body"] = _body(rng, rare_every)
                out.write(generate._record_line("conversation_parts", part) + "\n")
            records += 1 + parts_each
            if (n + 1) % STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"conversations": n}}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"done": True}}) + "\n")
    return records
