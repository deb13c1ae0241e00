"""Keypoint workers: frames -> 1662-float MediaPipe Holistic vectors, as many workers as the load needs."""
