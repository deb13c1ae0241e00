"""The gateway's routes, one router per concern, each built over the one `Gateway` it serves."""
