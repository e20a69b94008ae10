"""Camera and stream configurations, sensor modes, and what ``validate()`` adjusts.

As libcamera's Raspberry Pi pipeline handlers: ``validate()`` fills in each
stream's stride and frame size for the board's ISP (``pipeline_base.cpp``
``stream->stride = format.planes[0].bpl``; PiSP ``computeOptimalStride``), and
returns Adjusted when it changed something. The sensor is an IMX708 with its
three modes and their shortest frame durations (the IPA clamps
FrameDurationLimits to the mode: ``ipa_base.cpp`` applyFrameDurations).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hw_sim import board as boards
from hw_sim.board import Board
from hw_sim.libcamera_sim.geometry import ColorSpace, PixelFormat, Size


class StreamRole(enum.Enum):
    """``libcamera.StreamRole``."""

    Raw = 0
    StillCapture = 1
    VideoRecording = 2
    Viewfinder = 3


@dataclass(frozen=True)
class SensorMode:
    """One readout mode of the sensor: size and its shortest frame duration (µs)."""

    size: tuple[int, int]
    min_frame_us: int
    max_frame_us: int = 120_000_000


#: IMX708 (Camera Module 3) modes as libcamera lists them: 120, 56 and 14 fps.
IMX708_MODES = (
    SensorMode((1536, 864), 8_324),
    SensorMode((2304, 1296), 17_847),
    SensorMode((4608, 2592), 69_686),
)
RAW_FORMAT = "SRGGB10_CSI2P"
PROCESSED_FORMATS = ("YUV420", "YVU420", "RGB888", "BGR888", "XBGR8888", "XRGB8888")


class StreamFormats:
    """``StreamConfiguration.formats``: which pixel formats in which sizes."""

    def __init__(self, table: dict[str, list[tuple[int, int]]]) -> None:
        self._table = table

    @property
    def pixel_formats(self) -> list[PixelFormat]:
        return [PixelFormat(name) for name in self._table]

    def sizes(self, pix: PixelFormat | str) -> list[Size]:
        return [Size(*s) for s in self._table.get(str(pix), [])]


class Stream:
    """A configured stream; requests carry one buffer per stream."""

    def __init__(self, configuration: StreamConfiguration) -> None:
        self.configuration = configuration

    def __repr__(self) -> str:
        return f"<libcamera.Stream {self.configuration}>"


class StreamConfiguration:
    """Size, format, stride, frame size and buffer count of one stream."""

    def __init__(self, role: StreamRole) -> None:
        self.role = role
        if role is StreamRole.Raw:
            self.pixel_format = PixelFormat(RAW_FORMAT)
            self.size = Size(*IMX708_MODES[-1].size)
            table = {RAW_FORMAT: [m.size for m in IMX708_MODES]}
        else:
            self.pixel_format = PixelFormat("YUV420")
            self.size = Size(1920, 1080)
            table = {f: [(64, 64), (4608, 2592)] for f in PROCESSED_FORMATS}
        self.formats = StreamFormats(table)
        self.stride = 0
        self.frame_size = 0
        self.buffer_count = 4
        self.color_space: ColorSpace | None = None
        self.stream: Stream | None = None

    def __repr__(self) -> str:
        return f"{self.size}-{self.pixel_format}"


class SensorConfiguration:
    """``CameraConfiguration.sensor_config``: which sensor mode to use."""

    def __init__(self) -> None:
        self.bit_depth = 0
        self.output_size = Size()


class CameraConfiguration:
    """A list of stream configurations and the validate() step."""

    class Status(enum.Enum):
        Valid = 0
        Adjusted = 1
        Invalid = 2

    def __init__(self, board: Board, roles: list[StreamRole], force_size: tuple[int, int] | None,
                 ) -> None:
        from hw_sim.libcamera_sim.geometry import Orientation

        self._board = board
        self._force_size = force_size
        self._configs = [StreamConfiguration(r) for r in roles]
        self.orientation = Orientation.Rotate0
        self.sensor_config: SensorConfiguration | None = None

    def at(self, index: int) -> StreamConfiguration:
        """The stream configuration at ``index``; IndexError past the end."""
        return self._configs[index]

    def __iter__(self):
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    @property
    def size(self) -> int:
        return len(self._configs)

    def sensor_mode(self) -> SensorMode:
        """The mode the configuration selects (by sensor_config, else the largest)."""
        if self.sensor_config is not None:
            for mode in IMX708_MODES:
                if Size(*mode.size) == self.sensor_config.output_size:
                    return mode
        return IMX708_MODES[-1]

    def validate(self) -> CameraConfiguration.Status:
        """Make every stream producible; Adjusted if anything changed, Invalid if not possible."""
        status = CameraConfiguration.Status.Valid
        if self.sensor_config is not None and self.sensor_config.output_size.width:
            if not any(Size(*m.size) == self.sensor_config.output_size for m in IMX708_MODES):
                return CameraConfiguration.Status.Invalid
        main = None
        for cfg in self._configs:
            fmt = str(cfg.pixel_format)
            if cfg.role is StreamRole.Raw:
                mode = self.sensor_mode()
                if cfg.size != Size(*mode.size) or fmt != RAW_FORMAT:
                    cfg.size, cfg.pixel_format = Size(*mode.size), PixelFormat(RAW_FORMAT)
                    status = CameraConfiguration.Status.Adjusted
            else:
                if fmt not in PROCESSED_FORMATS:
                    cfg.pixel_format = PixelFormat("YUV420")
                    status = CameraConfiguration.Status.Adjusted
                if main is None and self._force_size and cfg.size != Size(*self._force_size):
                    # The simulated camera renders one size (see CameraSpec.force_size).
                    cfg.size = Size(*self._force_size)
                    status = CameraConfiguration.Status.Adjusted
                if main is None:
                    main = cfg
                elif cfg.size.width > main.size.width or cfg.size.height > main.size.height:
                    return CameraConfiguration.Status.Invalid
            fmt = str(cfg.pixel_format)
            row = boards.stride(self._board, fmt, cfg.size.width)
            if cfg.stride != row:
                cfg.stride = row
            cfg.frame_size = boards.frame_size(fmt, row, cfg.size.height)
        return status
