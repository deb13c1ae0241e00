"""The classifier: sliding 30-frame windows per camera -> predictions and detections."""
