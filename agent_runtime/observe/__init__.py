"""What a run leaves to look at: the metrics snapshot, telemetry spans, the run log and its run
directory, vendor bundles, and the one redaction module all of them write through."""
