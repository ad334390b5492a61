"""The monitoring center: the duty staff's live alert board, its REST API and the login in front of both."""
