"""Fake ``picamera2.request``: :class:`CompletedRequest` and :class:`MappedArray`, as far
as a ``pre_callback`` uses them.

Facts from picamera2 (raspberrypi/picamera2 at 3e6dff0, v0.3.36+2):

* ``Picamera2.process_requests`` (picamera2/picamera2.py:1411) calls
  ``pre_callback(request)`` for every completed request under ``Picamera2.lock``
  (taken at 1435, the call at 1449-1453), before any job copies the frame and
  before the encoders get it (1473); it runs on the camera's event loop thread.
* ``MappedArray(request, stream, reshape=True, write=True)`` maps the stream's
  buffer writable for the ``with`` block (picamera2/request.py:53-84); a YUV420
  buffer is shaped ``(h*3//2, stride)`` with its padding kept
  (``Helpers._make_array_shared``, picamera2/request.py:319-324).
* ``request.get_metadata()`` holds ``SensorTimestamp`` in ns (request.py:161-167).

Here the "buffer" is the fake camera's frame array itself (its stride is the
width), so what the callback writes is what the encoder encodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CompletedRequest:
    """One captured frame on its way to the encoders: stream arrays plus metadata."""

    def __init__(self, picam2: Any, config: dict[str, Any], arrays: dict[str, np.ndarray],
                 metadata: dict[str, Any]) -> None:
        self.picam2 = picam2
        self.config = dict(config)
        self._arrays = arrays
        self._metadata = metadata

    def get_metadata(self) -> dict[str, Any]:
        """The frame's metadata (a copy), ``SensorTimestamp`` in ns."""
        return dict(self._metadata)

    def make_array(self, name: str) -> np.ndarray:
        """A copy of stream ``name``'s frame."""
        return self.sim_buffer(name).copy()

    def sim_buffer(self, name: str) -> np.ndarray:
        """The stream's buffer itself (what MappedArray maps)."""
        if name not in self._arrays:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self._arrays[name]


class MappedArray:
    """The stream's buffer as a numpy array for a ``with`` block (writable by default)."""

    def __init__(self, request: CompletedRequest, stream: str, reshape: bool = True,
                 write: bool = True) -> None:
        self._request = request
        self._stream = stream
        self._reshape = reshape
        self._write = write
        self._array: np.ndarray | None = None

    def __enter__(self) -> MappedArray:
        fmt = self._request.config[self._stream]["format"]
        if fmt not in ("YUV420", "YVU420"):
            raise RuntimeError(f"the simulation maps YUV420 streams only, not {fmt!r}")
        buf = self._request.sim_buffer(self._stream)
        array = buf if self._reshape else buf.reshape(-1)
        if not self._write:
            array = array.view()
            array.setflags(write=False)
        self._array = array
        return self

    def __exit__(self, *exc: object) -> None:
        self._array = None

    @property
    def array(self) -> np.ndarray | None:
        """The mapped array inside the ``with`` block, else None."""
        return self._array
