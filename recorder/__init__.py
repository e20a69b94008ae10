"""Recording path: pre-record ring buffer, segmenter, evidence format, verifier, exporter.

Pure: knows nothing of hardware or of the display. It takes encoded packets and
events and writes evidence files.
"""
