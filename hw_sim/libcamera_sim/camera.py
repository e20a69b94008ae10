"""The simulated camera: CameraManager, Camera, Request and FrameBuffer.

Behaviour, as libcamera's Python binding and Raspberry Pi pipeline handler:

* ``CameraManager.singleton()``; ``event_fd`` becomes readable when requests
  complete, and ``get_ready_requests()`` drains it and returns them
  (``src/py/libcamera/py_camera_manager.cpp``).
* ``Camera.start(controls)`` then ``queue_request``; a frame is captured every
  frame duration of the virtual clock into the oldest queued request. With no
  request queued the frame is dropped (the sequence number still counts).
  ``stop()`` completes every queued request as Cancelled. ``queue_request`` on a
  stopped camera raises, as the binding turns libcamera's -EACCES into an error.
* Buffers are whatever the allocator gave (dma-heap memfds in the simulation);
  each frame is written through ``mmap`` of the buffer's fd with the stream's
  stride, so ``MappedArray`` sees exactly the bytes (and padding) the ISP wrote.
* FrameDurationLimits is clamped to the sensor mode (``ipa_base.cpp``
  applyFrameDurations) and every request's metadata carries the achieved
  FrameDuration and SensorTimestamp (ns).

In fast mode the camera takes a clock hold from completing a request until
picamera2 has given the previous one back, so picamera2's threads keep up with
virtual time (:meth:`hw_sim.clock.VirtualClock.hold`).
"""

from __future__ import annotations

import enum
import mmap
import os
import threading
from typing import Any

import numpy as np

from hw_sim import pixel_formats
from hw_sim.libcamera_sim.config import CameraConfiguration, Stream, StreamRole
from hw_sim.libcamera_sim.controls import ColorFilterArrangementEnum, ControlInfo, controls, properties
from hw_sim.libcamera_sim.geometry import Rectangle, Size
from hw_sim.registry import current
from hw_sim.scene import Scene


class FrameMetadata:
    """Per-buffer completion data: status, sequence, timestamp (ns), bytes used per plane."""

    class Status(enum.Enum):
        Success = 0
        Error = 1
        Cancelled = 2

    class Plane:
        def __init__(self, bytes_used: int) -> None:
            self.bytes_used = bytes_used

    def __init__(self) -> None:
        self.status = FrameMetadata.Status.Success
        self.sequence = 0
        self.timestamp = 0
        self.planes: list[FrameMetadata.Plane] = []


class FrameBuffer:
    """A buffer of one or more planes, each (fd, offset, length)."""

    class Plane:
        def __init__(self) -> None:
            self.fd = -1
            self.offset = 0
            self.length = 0

    def __init__(self, planes: list[FrameBuffer.Plane], cookie: int = 0) -> None:
        self.planes = list(planes)
        self.cookie = cookie
        self.metadata = FrameMetadata()
        self.metadata.planes = [FrameMetadata.Plane(p.length) for p in self.planes]


class Request:
    """A capture request: a buffer per stream, controls in, metadata out."""

    class Status(enum.Enum):
        Pending = 0
        Complete = 1
        Cancelled = 2

    class ReuseFlag(enum.IntEnum):
        Default = 0
        ReuseBuffers = 1

    def __init__(self, camera: Camera, cookie: int) -> None:
        self._camera = camera
        self.cookie = cookie
        self.status = Request.Status.Pending
        self.sequence = 0
        self.buffers: dict[Stream, FrameBuffer] = {}
        self.metadata: dict[Any, Any] = {}
        self._controls: dict[Any, Any] = {}

    def add_buffer(self, stream: Stream, buffer: FrameBuffer) -> None:
        """Attach the buffer this request fills for ``stream``."""
        if stream in self.buffers:
            raise RuntimeError("Failed to add buffer")
        self.buffers[stream] = buffer

    def set_control(self, control: Any, value: Any) -> None:
        """A control to apply when this request is captured."""
        self._controls[control] = value

    def reuse(self, flags: int = ReuseFlag.ReuseBuffers) -> None:
        """Make the request pending again (buffers kept)."""
        self.status = Request.Status.Pending
        self.metadata = {}
        self._controls = {}


class Camera:
    """One IMX708 on the world's board."""

    def __init__(self, manager: CameraManager) -> None:
        self._manager = manager
        self._world = current()
        self.id = self._world.board.camera_id
        self._lock = threading.Lock()
        self._acquired = False
        self._config: CameraConfiguration | None = None
        self._running = False
        self._queue: list[Request] = []
        self._timer: Any = None
        self._frame_us = 33_333
        self._held: dict[int, Any] = {}  # id(request) -> clock hold until it comes back
        self._last_done: Request | None = None
        self._scene: Scene | None = None
        #: Frames the sensor delivered into a request (not stalled, not dropped).
        self.frames_captured = 0
        #: Frames dropped because picamera2 had no request queued.
        self.frames_dropped = 0
        self._world.camera_device = self
        self.properties = {
            properties.Model: self._world.camera.model,
            properties.Location: 2,
            properties.Rotation: 0,
            properties.PixelArraySize: Size(4608, 2592),
            properties.ColorFilterArrangement: ColorFilterArrangementEnum.RGGB,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Camera) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def controls(self) -> dict[Any, ControlInfo]:
        """What the camera accepts; FrameDurationLimits follows the configured mode."""
        mode = (self._config.sensor_mode() if self._config is not None
                else CameraConfiguration(self._world.board, [], None).sensor_mode())
        w, h = mode.size
        return {
            controls.FrameDurationLimits: ControlInfo(mode.min_frame_us, mode.max_frame_us, 33_333),
            controls.NoiseReductionMode: ControlInfo(0, 4, 0),
            controls.ExposureTime: ControlInfo(26, 112_015_096, 20_000),
            controls.AnalogueGain: ControlInfo(1.12, 16.0, 1.0),
            controls.AeEnable: ControlInfo(False, True, True),
            controls.AwbEnable: ControlInfo(False, True, True),
            controls.Brightness: ControlInfo(-1.0, 1.0, 0.0),
            controls.Contrast: ControlInfo(0.0, 32.0, 1.0),
            controls.Saturation: ControlInfo(0.0, 32.0, 1.0),
            controls.Sharpness: ControlInfo(0.0, 16.0, 1.0),
            controls.ScalerCrop: ControlInfo(Rectangle(0, 0, 64, 64), Rectangle(0, 0, w, h),
                                             Rectangle(0, 0, w, h)),
        }

    # -- lifecycle ----------------------------------------------------------

    def acquire(self) -> None:
        """Exclusive use; a second acquire fails like a camera already in use."""
        if self._acquired:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self._acquired = True

    def release(self) -> None:
        """Give the camera up (it must be stopped)."""
        if self._running:
            raise RuntimeError("Failed to release camera: Device or resource busy")
        self._acquired = False

    def generate_configuration(self, roles: list[StreamRole]) -> CameraConfiguration:
        """A default configuration for the roles (validate() fills strides)."""
        spec = self._world.camera
        force = spec.size if spec.force_size else None
        return CameraConfiguration(self._world.board, list(roles), force)

    def configure(self, config: CameraConfiguration) -> int:
        """Adopt a validated configuration; 0 on success, as libcamera returns."""
        if self._running or not self._acquired:
            return -13
        if config.validate() is CameraConfiguration.Status.Invalid:
            return -22
        for cfg in config:
            cfg.stream = Stream(cfg)
        self._config = config
        main = config.at(0)
        self._scene = Scene(main.size.width, main.size.height)
        return 0

    def create_request(self, cookie: int = 0) -> Request:
        """A new empty request for this camera."""
        return Request(self, cookie)

    def start(self, controls_in: dict[Any, Any] | None = None) -> None:
        """Start streaming: the first frame is captured now, on the virtual clock."""
        if self._config is None:
            raise RuntimeError("Failed to start camera: not configured")
        if self._running:
            raise RuntimeError("Failed to start camera: already running")
        if self._world.camera_start_fails():
            raise RuntimeError("Failed to start camera: Input/output error")
        self._frame_us = self._clamped_duration((controls_in or {}).get(controls.FrameDurationLimits))
        clock = self._world.clock
        self._t0 = clock.monotonic()
        self._sensor_base_ns = round(self._t0 * 1e9)
        self._seq = 0
        self._last_done = None  # requests of an earlier start are never given back
        self._running = True
        self._world.set_frame_origin(self._t0)
        self._world.log("camera_start", fps=round(1e6 / self._frame_us, 3),
                        size=self._config.at(0).size.to_tuple())
        self._timer = clock.call_at(self._t0, self._capture)

    def stop(self) -> None:
        """Stop streaming: every queued request completes as Cancelled."""
        if not self._running:
            return
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            cancelled, self._queue = self._queue, []
            holds, self._held = self._held, {}
        for req in cancelled:
            req.status = Request.Status.Cancelled
            for fb in req.buffers.values():
                fb.metadata.status = FrameMetadata.Status.Cancelled
        self._manager._complete(cancelled)
        for hold in holds.values():
            hold.release()
        self._world.log("camera_stop", frames=self._seq)

    def queue_request(self, request: Request) -> None:
        """Hand a request to the camera to be filled by a coming frame."""
        if not self._running:
            raise RuntimeError("Failed to queue request: Permission denied")
        if request.status is not Request.Status.Pending:
            raise RuntimeError("Failed to queue request: Device or resource busy")
        with self._lock:
            self._queue.append(request)
            hold = self._held.pop(id(request), None)
        if hold is not None:
            hold.release()

    # -- frames -------------------------------------------------------------

    def _clamped_duration(self, limits: Any) -> int:
        assert self._config is not None
        mode = self._config.sensor_mode()
        lo = int(limits[0]) if limits is not None else 33_333
        # In good light the sensor runs at the shortest duration the limits allow.
        return min(max(lo, mode.min_frame_us), mode.max_frame_us)

    def _capture(self) -> None:
        """Clock callback: sensor frame ``seq`` into the oldest queued request."""
        if not self._running:
            return
        world, clock = self._world, self._world.clock
        seq = self._seq
        self._seq += 1
        t = self._t0 + seq * self._frame_us / 1e6
        self._timer = clock.call_at(self._t0 + self._seq * self._frame_us / 1e6, self._capture)
        if world.camera_stalled(t):
            return
        with self._lock:
            req = self._queue.pop(0) if self._queue else None
        if req is None:
            self.frames_dropped += 1
            return  # no buffer: the frame is dropped, as the real pipeline does
        self.frames_captured += 1
        assert self._scene is not None and self._config is not None
        yuv = self._scene.render(seq, seq * self._frame_us / 1e6, clock.time())
        main = self._config.at(0)
        for stream, fb in req.buffers.items():
            cfg = stream.configuration
            if cfg.role is not StreamRole.Raw:
                _write_frame(fb, yuv, main.size.to_tuple(), cfg)
            fb.metadata.status = FrameMetadata.Status.Success
            fb.metadata.sequence = seq
            fb.metadata.timestamp = self._sensor_base_ns + seq * self._frame_us * 1000
        req.sequence = seq
        req.metadata = {
            controls.SensorTimestamp: self._sensor_base_ns + seq * self._frame_us * 1000,
            controls.FrameDuration: self._frame_us,
            controls.ExposureTime: min(self._frame_us - 100, 20_000),
            controls.AnalogueGain: 1.0,
        }
        req.status = Request.Status.Complete
        if clock.fast:
            # Virtual time waits until picamera2 has given the previous request back.
            prev, self._last_done = self._last_done, req
            if prev is not None:
                with self._lock:
                    if prev not in self._queue and id(prev) not in self._held:
                        self._held[id(prev)] = clock.hold()
        self._manager._complete([req])


_maps: dict[tuple[int, int], np.ndarray] = {}
_maps_lock = threading.Lock()


def _mapped(plane: FrameBuffer.Plane, length: int) -> np.ndarray:
    """The buffer's memory as an array, mapped once per (fd, inode) the allocator made."""
    key = (plane.fd, os.fstat(plane.fd).st_ino)
    with _maps_lock:
        arr = _maps.get(key)
        if arr is None or arr.size < length:
            mm = mmap.mmap(plane.fd, plane.offset + length, mmap.MAP_SHARED,
                           mmap.PROT_READ | mmap.PROT_WRITE)
            arr = _maps[key] = np.frombuffer(mm, np.uint8)[plane.offset:]
            if len(_maps) > 256:  # buffers of earlier configurations
                _maps.pop(next(iter(_maps)))
        return arr


def _write_frame(fb: FrameBuffer, yuv: np.ndarray, size: tuple[int, int], cfg: Any) -> None:
    """Write the scene's YUV420 frame into a buffer the way the ISP lays out ``cfg``."""
    w, h = size
    fmt = str(cfg.pixel_format)
    ow, oh = cfg.size.width, cfg.size.height
    if (ow, oh) != (w, h):
        yuv = pixel_formats.resample_yuv420(yuv, w, h, (ow, oh))
    buf = _mapped(fb.planes[0], cfg.frame_size)
    stride = cfg.stride
    img = pixel_formats.convert(yuv, ow, oh, fmt)
    if fmt in ("YUV420", "YVU420"):
        buf[: stride * oh].reshape(oh, stride)[:, :ow] = img[:oh]
        # Two chroma planes of oh/2 rows, each row stride/2 bytes of which ow/2 are pixels.
        buf[stride * oh : stride * oh * 3 // 2].reshape(oh, stride // 2)[:, : ow // 2] = (
            img[oh:].reshape(oh, ow // 2))
    else:
        row = img.reshape(oh, -1)
        buf[: stride * oh].reshape(oh, stride)[:, : row.shape[1]] = row


class CameraManager:
    """The process-wide manager: cameras, the event fd, completed requests."""

    _instance: CameraManager | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def singleton(cls) -> CameraManager:
        with cls._instance_lock:
            world = current()
            inst = cls._instance
            if inst is None or inst._world is not world:
                inst = cls._instance = CameraManager()
            return inst

    def __init__(self) -> None:
        self._world = current()
        self.event_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._ready: list[Request] = []
        self._lock = threading.Lock()
        self.cameras = [Camera(self)]
        self.version = "v0.5.0+sim"

    def get(self, camera_id: str) -> Camera:
        """The camera with this id (KeyError-like RuntimeError if none)."""
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise RuntimeError(f"no camera {camera_id}")

    def find(self, camera_id: str) -> Camera:
        return self.get(camera_id)

    def get_ready_requests(self) -> list[Request]:
        """Completed requests since the last call; clears the event fd."""
        try:
            os.eventfd_read(self.event_fd)
        except BlockingIOError:
            pass
        with self._lock:
            ready, self._ready = self._ready, []
        return ready

    def _complete(self, requests: list[Request]) -> None:
        if not requests:
            return
        with self._lock:
            self._ready.extend(requests)
        os.eventfd_write(self.event_fd, 1)
