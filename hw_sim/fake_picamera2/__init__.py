"""Fake ``picamera2`` package: :class:`Picamera2`, ``encoders`` and ``outputs``.

:func:`hw_sim.install` registers this package under ``picamera2`` and its
submodules under ``picamera2.encoders`` and ``picamera2.outputs``.
"""

from hw_sim.fake_picamera2 import encoders, outputs
from hw_sim.fake_picamera2.picamera2 import Picamera2
from hw_sim.fake_picamera2.request import CompletedRequest, MappedArray

__all__ = ["CompletedRequest", "MappedArray", "Picamera2", "encoders", "outputs"]
