"""What keeps a run going when a provider misbehaves: the recovery policy, per-route circuit
breakers, route resolution for failover, and ``ResilientModel``, which wraps the wire client in
all three."""
