"""The wire: one HTTP call to one provider route, and everything needed to read what comes back.

``sse`` decodes event streams, ``accumulator`` turns deltas into canonical events (the one
accumulator every protocol shares), ``protocols`` holds one module per wire protocol (request
builder, finish table, response parser, stream decoder, error bodies), ``classify`` maps
statuses, HTML pages and transport exceptions to the canonical error categories, and ``client``
makes the call on the clock and never raises for provider trouble.
"""
