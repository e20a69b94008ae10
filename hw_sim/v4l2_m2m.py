"""The Pi 4's V4L2 memory-to-memory H.264 encoder (/dev/video11, bcm2835-codec).

picamera2's ``V4L2Encoder`` (``encoders/v4l2_encoder.py``) drives it with
ioctls: S_FMT on both queues, S_CTRL (bitrate, forced key frame), S_PARM (frame
rate, only with ``enable_sps_framerate``), S_EXT_CTRLS (I-period, repeated
sequence headers, profile, level, QP), REQBUFS, QUERYBUF + mmap of 16 capture
buffers, QBUF/DQBUF, STREAMON/OFF, and a thread that polls the fd: POLLOUT
when an input (OUTPUT queue) buffer is done, POLLIN when an encoded (CAPTURE)
buffer is ready. The simulated device accepts exactly that sequence.

The hardware encodes each frame as it is queued: one packet per frame, at
once, no B-frames. It reads the camera's dma-buf with the stride given in S_FMT.
Without REPEAT_SEQ_HEADER the SPS/PPS come once, in front of the first packet.
Its rate control works at the frame rate set with S_PARM, 30 fps if none.
Encoding here is libx264 through PyAV (zerolatency, one thread), so the bytes
differ from the VideoCore encoder's; the calling convention does not.

In fast mode the device holds virtual time from a frame's QBUF until its
encoded buffer is queued back (after picamera2 handed it to the outputs).
"""

from __future__ import annotations

import collections
import ctypes
import mmap
import os
import threading
from fractions import Fraction
from typing import Any

import numpy as np
import videodev2 as v

#: Bytes in each encoded (CAPTURE) buffer; picamera2 asks for 512 KiB.
CAPTURE_BYTES = 512 << 10
DEFAULT_FPS = 30
_PROFILES = {v.V4L2_MPEG_VIDEO_H264_PROFILE_BASELINE: "baseline",
             v.V4L2_MPEG_VIDEO_H264_PROFILE_CONSTRAINED_BASELINE: "baseline",
             v.V4L2_MPEG_VIDEO_H264_PROFILE_MAIN: "main",
             v.V4L2_MPEG_VIDEO_H264_PROFILE_HIGH: "high"}


class EncoderDevice:
    """One open /dev/video11."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._cond = threading.Condition()
        self.width = self.height = self.stride = 0
        self.bitrate: int | None = None
        self.fps: Fraction = Fraction(DEFAULT_FPS)
        self.iperiod = 60
        self.repeat = False
        self.profile: str | None = None
        self.qp: int | None = None
        self._force_key = False
        self._streaming = 0
        self._capture_mem = -1
        self._free_capture: collections.deque[int] = collections.deque()
        self._done_output: collections.deque[int] = collections.deque()
        self._done_capture: collections.deque[tuple[int, int, bool, int]] = collections.deque()
        self._holds: dict[int, Any] = {}
        self._cc: Any = None
        self._sent_headers = False

    # -- ioctls -------------------------------------------------------------

    def ioctl(self, request: int, arg: Any) -> int:
        handler = {
            v.VIDIOC_QUERYCAP: self._querycap, v.VIDIOC_S_CTRL: self._s_ctrl,
            v.VIDIOC_S_FMT: self._s_fmt, v.VIDIOC_S_PARM: self._s_parm,
            v.VIDIOC_S_EXT_CTRLS: self._s_ext_ctrls, v.VIDIOC_REQBUFS: self._reqbufs,
            v.VIDIOC_QUERYBUF: self._querybuf, v.VIDIOC_QBUF: self._qbuf,
            v.VIDIOC_DQBUF: self._dqbuf, v.VIDIOC_STREAMON: self._streamon,
            v.VIDIOC_STREAMOFF: self._streamoff,
        }.get(request)
        if handler is None:
            raise OSError(25, "Inappropriate ioctl for device")
        handler(arg)
        return 0

    def _querycap(self, cap: Any) -> None:
        for field, text in (("card", b"bcm2835-codec-encode"), ("driver", b"bcm2835-codec")):
            ctypes.memmove(getattr(cap, field), text, len(text))

    def _s_ctrl(self, ctrl: Any) -> None:
        if ctrl.id == v.V4L2_CID_MPEG_VIDEO_BITRATE:
            self.bitrate = int(ctrl.value)
        elif ctrl.id == v.V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME:
            self._force_key = True
        else:
            raise OSError(22, "Invalid argument")

    def _s_fmt(self, fmt: Any) -> None:
        pix = fmt.fmt.pix_mp
        if fmt.type == v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE:
            if pix.pixelformat != v.V4L2_PIX_FMT_YUV420:
                raise OSError(22, "the simulated encoder takes YUV420 only")
            self.width, self.height = int(pix.width), int(pix.height)
            self.stride = int(pix.plane_fmt[0].bytesperline) or self.width
        elif fmt.type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
            if pix.pixelformat != v.V4L2_PIX_FMT_H264:
                raise OSError(22, "the simulated encoder makes H.264 only")
            pix.plane_fmt[0].sizeimage = CAPTURE_BYTES
        else:
            raise OSError(22, "Invalid argument")

    def _s_parm(self, parm: Any) -> None:
        tpf = parm.parm.output.timeperframe
        self.fps = Fraction(int(tpf.denominator), int(tpf.numerator))

    def _s_ext_ctrls(self, ext: Any) -> None:
        for i in range(ext.count):
            ctrl = ext.controls[i]
            if ctrl.id == v.V4L2_CID_MPEG_VIDEO_H264_I_PERIOD:
                self.iperiod = int(ctrl.value)
            elif ctrl.id == v.V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER:
                self.repeat = bool(ctrl.value)
            elif ctrl.id == v.V4L2_CID_MPEG_VIDEO_H264_PROFILE:
                self.profile = _PROFILES[int(ctrl.value)]
            elif ctrl.id in (v.V4L2_CID_MPEG_VIDEO_H264_MIN_QP, v.V4L2_CID_MPEG_VIDEO_H264_MAX_QP):
                self.qp = int(ctrl.value)
            elif ctrl.id != v.V4L2_CID_MPEG_VIDEO_H264_LEVEL:
                raise OSError(22, "Invalid argument")

    def _reqbufs(self, req: Any) -> None:
        if req.type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
            if self._capture_mem >= 0:
                os.close(self._capture_mem)
                self._capture_mem = -1
            self._free_capture.clear()
            if req.count:
                self._capture_mem = os.memfd_create("h264-capture", os.MFD_CLOEXEC)
                os.ftruncate(self._capture_mem, req.count * CAPTURE_BYTES)

    def _querybuf(self, buf: Any) -> None:
        buf.m.planes[0].length = CAPTURE_BYTES
        buf.m.planes[0].m.mem_offset = buf.index * CAPTURE_BYTES

    def _streamon(self, typ: Any) -> None:
        self._streaming += 1
        if self._streaming == 2:
            self._open_codec()

    def _streamoff(self, typ: Any) -> None:
        self._streaming = max(0, self._streaming - 1)
        with self._cond:
            self._done_output.clear()
            self._done_capture.clear()
            holds, self._holds = self._holds, {}
        for hold in holds.values():
            hold.release()
        self._cc = None

    def _qbuf(self, buf: Any) -> None:
        if buf.type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE:
            with self._cond:
                self._free_capture.append(int(buf.index))
                hold = self._holds.pop(int(buf.index), None)
            if hold is not None:
                hold.release()
            return
        plane = buf.m.planes[0]
        ts_us = int(buf.timestamp.tv_sec) * 1_000_000 + int(buf.timestamp.tv_usec)
        self._encode(int(plane.m.fd), int(plane.bytesused), ts_us)
        with self._cond:
            self._done_output.append(int(buf.index))
            self._cond.notify_all()

    def _dqbuf(self, buf: Any) -> None:
        with self._cond:
            if buf.type == v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE:
                if not self._done_output:
                    raise BlockingIOError(11, "Resource temporarily unavailable")
                buf.index = self._done_output.popleft()
                return
            if not self._done_capture:
                raise BlockingIOError(11, "Resource temporarily unavailable")
            index, used, key, ts_us = self._done_capture.popleft()
        buf.index = index
        buf.m.planes[0].bytesused = used
        buf.m.planes[0].length = CAPTURE_BYTES
        buf.flags = v.V4L2_BUF_FLAG_KEYFRAME if key else 0
        buf.timestamp.tv_sec, buf.timestamp.tv_usec = divmod(ts_us, 1_000_000)

    # -- poll and mmap ------------------------------------------------------

    def wait(self, events: int, timeout_ms: float | None) -> int:
        """poll(): POLLOUT with an input buffer done, POLLIN with an encoded one ready."""
        import select

        def ready() -> int:
            mask = select.POLLOUT if self._done_output else 0
            return mask | (select.POLLIN if self._done_capture else 0)

        with self._cond:
            self._cond.wait_for(lambda: ready() & events,
                                None if timeout_ms is None or timeout_ms < 0 else timeout_ms / 1000)
            return ready() & events

    def mmap(self, length: int, offset: int) -> mmap.mmap:
        """A capture buffer's memory (picamera2 reads the packet from it)."""
        return mmap.mmap(self._capture_mem, length, mmap.MAP_SHARED,
                         mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)

    def close(self) -> None:
        if self._capture_mem >= 0:
            os.close(self._capture_mem)
            self._capture_mem = -1

    # -- the encoder --------------------------------------------------------

    def _open_codec(self) -> None:
        import av

        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height = self.width, self.height
        cc.pix_fmt = "yuv420p"
        cc.time_base = Fraction(1, 1_000_000)
        cc.framerate = self.fps
        cc.gop_size = self.iperiod
        cc.max_b_frames = 0
        cc.thread_count = 1
        if self.qp is not None:
            cc.qmin = cc.qmax = self.qp
        elif self.bitrate:
            cc.bit_rate = self.bitrate
        if not self.repeat:
            from av.codec.context import Flags as CodecFlags

            cc.flags |= CodecFlags.global_header
        opts = {"preset": "ultrafast", "tune": "zerolatency",
                "x264-params": f"keyint={self.iperiod}:min-keyint={self.iperiod}:scenecut=0"}
        if self.profile:
            opts["profile"] = self.profile
        cc.options = opts
        cc.open()
        self._cc = cc
        self._sent_headers = False

    def _encode(self, dmabuf_fd: int, used: int, ts_us: int) -> None:
        import av
        from av.video.frame import PictureType

        from hw_sim.registry import current

        w, h, s = self.width, self.height, self.stride
        with mmap.mmap(dmabuf_fd, used, mmap.MAP_SHARED, mmap.PROT_READ) as mm:
            raw = np.frombuffer(mm.read(used), np.uint8)
        luma = raw[: s * h].reshape(h, s)[:, :w]
        chroma = raw[s * h : s * h * 3 // 2].reshape(h, s // 2)[:, : w // 2]
        frame = av.VideoFrame.from_ndarray(
            np.concatenate([luma.reshape(-1), chroma.reshape(-1)]).reshape(h * 3 // 2, w),
            format="yuv420p")
        frame.pts = ts_us
        if self._force_key:
            self._force_key = False
            frame.pict_type = PictureType.I
        for packet in self._cc.encode(frame):
            data = bytes(packet)
            if not self.repeat and not self._sent_headers and self._cc.extradata:
                data = bytes(self._cc.extradata) + data
            self._sent_headers = True
            with self._cond:
                if not self._free_capture:
                    continue  # no buffer to put it in: the packet is lost, as on the device
                index = self._free_capture.popleft()
                clock = current().clock
                if clock.fast:
                    self._holds[index] = clock.hold()
            with self.mmap(CAPTURE_BYTES, index * CAPTURE_BYTES) as mm:
                mm.write(data[:CAPTURE_BYTES])
            with self._cond:
                self._done_capture.append((index, min(len(data), CAPTURE_BYTES),
                                           bool(packet.is_keyframe), int(packet.pts)))
                self._cond.notify_all()
