"""Fake ``picamera2.Picamera2``: the subset our camera driver uses, with picamera2's signatures.

Once started, the camera captures frame ``n`` at clock time ``t0 + n/fps`` (a
timer on the world's clock), renders the scene into it with the frame tag ``n``,
keeps it as the latest frame for :meth:`Picamera2.capture_array`, and feeds it to
every running encoder, which calls its Output synchronously on the clock thread.

* Frame numbers (tags) count from 0 at each ``start()``; the sensor keeps
  counting through a ``camera_stall`` fault, so a stall shows as a jump in tags
  and timestamps. No frame, no packet, while stalled.
* The sensor timestamp of frame ``n`` is ``round(t0 * 1e6) + round(n * 1e6 / fps)``
  µs (boot-time based, like libcamera's). Encoders rebase it to their first frame,
  as picamera2 does (see ``hw_sim.fake_picamera2.encoders``).
* The first ``start()`` binds scenario time 0: ``world.frame_origin = t0``.
* ``capture_array`` may be called from any thread; it returns a new array and
  never waits for the clock thread.
* ``pre_callback``, when set, gets each frame's :class:`CompletedRequest` on the
  clock thread (the camera's thread here) under :attr:`Picamera2.lock`, before
  any encoder sees the frame, as picamera2's ``process_requests`` does
  (picamera2/picamera2.py:1435-1473): what it draws into the main stream through
  ``MappedArray`` is encoded. The lores stream is a separate ISP output on the
  device, so it is scaled from a copy of the frame taken before the callback draws.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from hw_sim import world as _world
from hw_sim.clock import Timer
from hw_sim.fake_picamera2 import formats
from hw_sim.fake_picamera2.encoders import Encoder, Quality
from hw_sim.fake_picamera2.outputs import Output
from hw_sim.fake_picamera2.request import CompletedRequest
from hw_sim.scene import Scene

#: How long capture_array() on another thread waits for the very first frame (real s).
FIRST_FRAME_WAIT = 2.0

_STREAM_KEYS = ("format", "size", "stride", "preserve_ar")


class Picamera2:
    """One simulated camera module on the installed world."""

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        """The attached cameras: one, the simulated sensor."""
        spec = _world.current().camera
        return [{"Model": spec.model, "Location": 2, "Rotation": 0,
                 "Id": "/base/soc/i2c0mux/i2c@1/sim@10", "Num": 0}]

    def __init__(
        self,
        camera_num: int = 0,
        verbose_console: Any = None,
        tuning: Any = None,
        allocator: Any = None,
    ) -> None:
        world = _world.current()
        if camera_num != 0:
            raise IndexError("list index out of range")
        if world.camera_device is not None:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self._world = world
        spec = world.camera
        self.camera_properties: dict[str, Any] = {
            "Model": spec.model,
            "Location": 2,
            "Rotation": 0,
            "PixelArraySize": spec.size,
            "PixelArrayActiveAreas": [(0, 0, *spec.size)],
        }
        self.camera_controls: dict[str, tuple[Any, Any, Any]] = {
            "FrameDurationLimits": (8333, 1_000_000, round(1e6 / spec.fps)),
            "FrameRate": (1.0, 120.0, spec.fps),
        }
        self.camera_config: dict[str, Any] | None = None
        self.encode_stream_name = "main"
        self.started = False
        self.is_open = True
        self._encoders: dict[Encoder, None] = {}
        self._controls: dict[str, Any] = {}
        self._scene: Scene | None = None
        self._fps = spec.fps
        self._timer: Timer | None = None
        self._t0 = 0.0
        self._n = 0
        self._sensor_base_us = 0
        self._latest: tuple[np.ndarray, int, int, np.ndarray | None] | None = None
        self._have_frame = threading.Event()
        #: Called with each frame's request before encoding (picamera2's attribute).
        self.pre_callback: Any = None
        #: Held around the pre_callback and the encoders, as picamera2's ``lock``.
        self.lock = threading.Lock()
        #: Frames actually captured (not stalled) since the camera was opened.
        self.frames_captured = 0
        world.camera_device = self

    def __enter__(self) -> Picamera2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration ------------------------------------------------------

    def create_video_configuration(
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
        transform: Any = None,
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        """A video configuration dict shaped like picamera2's."""
        spec = self._world.camera
        main_cfg = _stream({"format": "XBGR8888", "size": spec.size, "preserve_ar": True}, main)
        lores_cfg = None if lores is None else _stream(
            {"format": "YUV420", "size": spec.lores_size, "preserve_ar": False}, lores
        )
        for cfg in (main_cfg, lores_cfg):
            if cfg is not None:
                w, h = cfg["size"]
                cfg["size"] = (w - w % 2, h - h % 2)
        width, height = main_cfg["size"]
        space = "Smpte170m" if width < 1280 or height < 720 else "Rec709"
        ctrl: dict[str, Any] = {"NoiseReductionMode": "Fast"}
        if not {"FrameRate", "FrameDurationLimits"} & set(controls or {}):
            ctrl["FrameRate"] = spec.fps  # exact, where picamera2 puts whole microseconds
        ctrl |= dict(controls or {})
        return {
            "use_case": use_case,
            "transform": transform,
            "colour_space": colour_space if colour_space is not None else space,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": main_cfg,
            "lores": lores_cfg,
            "raw": None if raw is None else {"format": "SRGGB10_CSI2P", "size": main_cfg["size"]},
            "controls": ctrl,
            "sensor": dict(sensor or {}),
            "display": display,
            "encode": encode,
        }

    def configure(self, camera_config: dict[str, Any] | str | None = None) -> None:
        """Adopt a configuration; the simulated camera may adjust sizes (read them back)."""
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if camera_config is None or camera_config == "video":
            camera_config = self.create_video_configuration()
        elif isinstance(camera_config, str):
            raise RuntimeError(f"the simulated camera only knows the 'video' configuration, "
                               f"not {camera_config!r}")
        spec = self._world.camera
        for name in ("main", "lores"):
            cfg = camera_config.get(name)
            if cfg is None:
                if name == "main":
                    raise RuntimeError("main stream should be a dictionary")
                continue
            if "format" not in cfg or "size" not in cfg:
                raise RuntimeError(f"format and size are required in the {name} stream")
            if cfg["format"] not in formats.FORMATS:
                raise RuntimeError(f"Bad format {cfg['format']!r} in {name} stream")
            w, h = (int(x) for x in cfg["size"])
            if w < 2 or h < 2 or w % 2 or h % 2:
                raise RuntimeError(f"{name} stream size {cfg['size']} must be even and positive")
            if name == "main" and spec.force_size:
                w, h = spec.size
            cfg["size"] = (w, h)
            cfg["stride"] = w * _bytes_per_pixel(cfg["format"])
        self.camera_config = camera_config
        self.encode_stream_name = camera_config.get("encode") or "main"
        self._fps = _frame_rate(camera_config.get("controls") or {}, spec.fps)
        self._scene = Scene(*camera_config["main"]["size"])

    def camera_configuration(self) -> dict[str, Any] | None:
        """The configuration in force (sizes as the camera adjusted them)."""
        return self.camera_config

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        """One stream's configuration."""
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        return self.camera_config[name]

    def set_controls(self, controls: dict[str, Any]) -> None:
        """Store controls; a new frame rate takes effect at the next start()."""
        self._controls.update(controls)
        if self.camera_config is not None:
            self.camera_config.setdefault("controls", {}).update(controls)

    # -- running ------------------------------------------------------------

    def start(self, config: dict[str, Any] | str | None = None, show_preview: bool = False) -> None:
        """Start capturing: frame 0 now, then one every 1/fps s of clock time."""
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            self.configure("video")
        if self.started:
            return
        ctrl = self.camera_config.get("controls") or {}  # type: ignore[union-attr]
        self._fps = _frame_rate(ctrl, self._world.camera.fps)
        clock = self._world.clock
        self._t0 = clock.monotonic()
        self._n = 0
        self._sensor_base_us = round(self._t0 * 1e6)
        self.started = True
        self._timer = clock.call_at(self._t0, self._capture)
        self._world.log("camera_start", fps=self._fps, size=self.camera_config["main"]["size"])  # type: ignore[index]
        self._world.set_frame_origin(self._t0)

    def stop(self) -> None:
        """Stop capturing (encoders stay attached but get no frames)."""
        if not self.started:
            return
        self.started = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._world.log("camera_stop", frames=self._n)

    def start_encoder(
        self,
        encoder: Encoder | None = None,
        output: Output | list[Output] | None = None,
        pts: Any = None,
        quality: Quality | None = None,
        name: str | None = None,
    ) -> None:
        """Attach and start an encoder on a configured stream."""
        if encoder is None:
            if len(self._encoders) > 1:
                raise RuntimeError("Multiple possible encoders, need to pass encoder")
            encoder = next(iter(self._encoders), None)
        if encoder is None:
            raise RuntimeError("No encoder specified")
        if output is not None:
            encoder.output = output
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        name = name or self.encode_stream_name
        if name is None:
            raise RuntimeError("no encode stream named")
        stream = self.camera_config.get(name)
        if stream is None:
            raise RuntimeError(f"Encode stream {name} was not defined")
        encoder.name = name
        encoder.width, encoder.height = stream["size"]
        encoder.format = stream["format"]
        encoder.stride = stream["stride"]
        spec = self._world.camera
        encoder.sim_fps = self._fps
        encoder.sim_gop = max(1, round(spec.gop_seconds * self._fps))
        encoder.sim_default_bitrate = spec.bitrate
        if getattr(encoder, "framerate", 0) is None:
            encoder.framerate = min(self._fps, 30.0)  # type: ignore[attr-defined]
        encoder.start(quality=quality)
        self._encoders[encoder] = None

    def stop_encoder(self, encoders: Encoder | list[Encoder] | set[Encoder] | None = None) -> None:
        """Stop (and detach) one, some or all encoders."""
        if encoders is None:
            chosen = list(self._encoders)
        elif isinstance(encoders, Encoder):
            chosen = [encoders]
        else:
            chosen = list(encoders)
        for enc in chosen:
            enc.stop()
            self._encoders.pop(enc, None)

    @property
    def encoders(self) -> set[Encoder]:
        """The attached encoders."""
        return set(self._encoders)

    def start_recording(
        self,
        encoder: Encoder,
        output: Output | list[Output],
        pts: Any = None,
        config: dict[str, Any] | str | None = None,
        quality: Quality | None = None,
        name: str | None = None,
    ) -> None:
        """configure (if asked), start_encoder, start: as picamera2."""
        if self.camera_config is None and config is None:
            config = "video"
        if config is not None:
            self.configure(config)
        self.start_encoder(encoder, output, pts=pts, quality=quality, name=name)
        self.start()

    def stop_recording(self) -> None:
        """stop, then stop_encoder: as picamera2."""
        self.stop()
        self.stop_encoder()

    def close(self) -> None:
        """Stop everything and release the camera."""
        if not self.is_open:
            return
        self.stop()
        for enc in list(self._encoders):
            if enc.running:
                enc.stop()
        self._encoders.clear()
        self.is_open = False
        if self._world.camera_device is self:
            self._world.camera_device = None

    # -- frames -------------------------------------------------------------

    def _capture(self) -> None:
        """Clock callback: capture frame n (unless stalled) and schedule n+1."""
        if not self.started:
            return
        clock = self._world.clock
        n = self._n
        t = self._t0 + n / self._fps
        self._n = n + 1
        self._timer = clock.call_at(self._t0 + (n + 1) / self._fps, self._capture)
        if self._world.camera_stalled(t):
            return
        assert self._scene is not None
        yuv = self._scene.render(n, n / self._fps, clock.time())
        ts_us = self._sensor_base_us + round(n * 1e6 / self._fps)
        clean = None
        with self.lock:
            if self.pre_callback is not None:
                # On the device lores is a separate ISP output, not drawn on: keep the
                # frame as captured (a copy is far cheaper than scaling it every frame).
                clean = yuv.copy()
                assert self.camera_config is not None  # started only once configured
                self.pre_callback(CompletedRequest(
                    self, self.camera_config, {"main": yuv},
                    {"SensorTimestamp": ts_us * 1000, "FrameDuration": round(1e6 / self._fps)}))
            self._latest = (yuv, n, ts_us, clean)
            self.frames_captured += 1
            self._have_frame.set()
            for enc in list(self._encoders):
                if enc.running and enc.name == "main":
                    enc.sim_encode(yuv, ts_us)
                elif enc.running and enc.name == "lores":
                    enc.sim_encode(self._lores(yuv if clean is None else clean), ts_us)

    def _lores(self, yuv: np.ndarray) -> np.ndarray:
        assert self.camera_config is not None and self.camera_config.get("lores")
        w, h = self.camera_config["main"]["size"]
        return formats.resample_yuv420(yuv, w, h, self.camera_config["lores"]["size"])

    def capture_array(self, name: str = "main", wait: Any = None, signal_function: Any = None
                      ) -> np.ndarray:
        """The latest frame of stream ``name`` as a new array (any thread; never blocks the clock)."""
        latest = self._latest_frame()
        assert self.camera_config is not None
        stream = self.camera_config.get(name)
        if name not in ("main", "lores") or stream is None:
            raise RuntimeError(f"Stream {name!r} was not configured (the simulation has main and lores)")
        yuv = latest[0]
        w, h = self.camera_config["main"]["size"]
        if name == "lores":
            clean = latest[3] if latest[3] is not None else yuv
            yuv = formats.resample_yuv420(clean, w, h, stream["size"])
            w, h = stream["size"]
        return formats.convert(yuv, w, h, stream["format"])

    def capture_metadata(self, wait: Any = None, signal_function: Any = None) -> dict[str, Any]:
        """The latest frame's metadata (SensorTimestamp in ns, FrameDuration in µs)."""
        _, _, ts_us, _ = self._latest_frame()
        return {"SensorTimestamp": ts_us * 1000, "FrameDuration": round(1e6 / self._fps)}

    def _latest_frame(self) -> tuple[np.ndarray, int, int, np.ndarray | None]:
        latest = self._latest
        if latest is None:
            if not self._world.clock.on_clock_thread():
                self._have_frame.wait(FIRST_FRAME_WAIT)
            latest = self._latest
        if latest is None:
            raise RuntimeError("no frame captured yet: start the camera and run the clock")
        return latest


def _stream(defaults: dict[str, Any], updates: dict[str, Any] | None) -> dict[str, Any]:
    cfg = dict(defaults)
    for key, value in (updates or {}).items():
        if key not in _STREAM_KEYS:
            raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {_STREAM_KEYS}")
        cfg[key] = tuple(value) if key == "size" else value
    return cfg


def _bytes_per_pixel(fmt: str) -> int:
    return {"RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}.get(fmt, 1)


def _frame_rate(controls: dict[str, Any], default: float) -> float:
    """FrameRate wins; else FrameDurationLimits' max duration (µs); else the spec's fps."""
    if "FrameRate" in controls:
        fps = float(controls["FrameRate"])
    elif "FrameDurationLimits" in controls:
        fps = 1e6 / float(controls["FrameDurationLimits"][1])
    else:
        fps = default
    if not 0 < fps <= 240:
        raise RuntimeError(f"frame rate {fps} is out of the simulated sensor's range")
    return fps
