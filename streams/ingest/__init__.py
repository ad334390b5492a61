"""The worker's ingest step: raw batches read, checked and stored through an `EventStore`, rejects dead-lettered."""
