"""Cassettes: vcrpy-format recordings of provider traffic.

``vcr_reader`` reads any vcrpy cassette (other projects' recordings included);
``format`` is our own readable form (JSON as data, SSE events with time offsets);
``transport`` replays and records; ``matching`` normalizes requests.
"""
