"""Capture: one camera source -> JPEG frames on frames:<camera>, paced to a frame rate."""
