"""govpulse: real-time supervision of government service halls."""
