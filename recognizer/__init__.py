"""A CRNN word recognizer trained on synthgen data."""
