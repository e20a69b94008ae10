"""The device's recording path: pre-record buffer, segmenter, evidence store, recovery.

Pure: knows nothing of hardware or of the display. It takes encoded packets and
events and writes evidence files in the format of the ``evidence`` package.
"""
