"""What the engine runs on, not what it does: the embedded Redis, the workers'
heartbeats and probe, the health check. Nothing here imports the domain apps."""
