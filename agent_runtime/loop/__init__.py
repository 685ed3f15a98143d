"""The agent loop: conversation state, tools, completion detection and loop guards, over any
``Model`` (``loop.model``)."""
