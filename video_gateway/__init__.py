"""The video gateway: probes hall cameras with OpenCV, diagnoses picture faults,
and publishes camera probe results and node heartbeats on the `video` stream.

Modules: config (probe settings), measures and quality (frame analysis and
the fault verdict), probe (one camera), runner (threads under a hard
deadline), scheduler (every camera once per interval; node heartbeats),
publisher (batches through the city-node SDK), targets (cameras and URLs),
metrics (Prometheus), cli (`govpulse video-gateway`). See README.md beside this file.
"""
