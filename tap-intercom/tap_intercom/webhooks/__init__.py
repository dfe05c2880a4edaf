"""Intercom webhooks: the receiver (``intercom-webhooks``) and the queue the tap drains.

``queue`` is standard library only and used by the tap; ``server`` and ``cli`` need the
``webhooks`` extra (Starlette, uvicorn).
"""
