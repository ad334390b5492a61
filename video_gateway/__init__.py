"""The video gateway (OpenCV probes of hall cameras, node heartbeats).

Not implemented yet. Video node heartbeats and camera probe results are
already accepted on the `video` stream from city nodes (see README, Streams).
"""
