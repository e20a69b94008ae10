"""What runs at the evidence office: verify, export, remux, report (next: the evidence server).

These tools read the evidence format (``evidence``) with the custodian's keys;
they never import the device's recording path (``recorder``), so a custodian's
machine needs no camera, GPIO or TPM stack.
"""
