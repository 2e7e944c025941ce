"""Audio for a written video: a source file's audio stream (stream-copied where the container
accepts the codec, re-encoded otherwise) or generated samples, muxed in step with the video
(:class:`AudioCarrier`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.video.inputs import open_input

log = logging.getLogger(__name__)

#: Audio codecs each container family takes as a stream copy; anything else is re-encoded.
_COPYABLE_AUDIO = {
    ".mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
    ".mkv": None,  # Matroska takes any codec
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "ac3", "pcm_s16le"},
}
_REENCODE_AUDIO = {".webm": "libopus", ".avi": "mp3"}  # default: aac


class AudioCarrier:
    """Feeds the audio of a source file, or generated samples, into an output container.

    Audio is muxed in step with the video (``advance(t)`` up to the time of the last video frame)
    so the muxer interleaves without buffering a whole file.
    """

    def __init__(self, output: av.container.OutputContainer, ext: str,
                 source: Path | None, samples: tuple[np.ndarray, int] | None) -> None:
        self.output = output
        self._in: av.container.InputContainer | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._resampler: av.AudioResampler | None = None
        self._decoded: Iterator[av.AudioFrame] | None = None
        self.stream = None
        self._done = False
        if source is not None:
            self._open_source(source, ext)
        elif samples is not None:
            data, rate = samples
            data = np.atleast_2d(np.asarray(data, dtype=np.float32))
            self.stream = output.add_stream(_REENCODE_AUDIO.get(ext, "aac"), rate=int(rate))
            self.stream.layout = "stereo" if data.shape[0] == 2 else "mono"
            self._decoded = self._chunks(data, int(rate))
            self._resampler = self._make_resampler()

    def _open_source(self, source: Path, ext: str) -> None:
        container = open_input(source)
        if not container.streams.audio:
            container.close()
            return
        in_audio = container.streams.audio[0]
        self._in = container
        copyable = _COPYABLE_AUDIO.get(ext, {"aac", "mp3"})
        if copyable is None or in_audio.codec_context.name in copyable:
            self.stream = self.output.add_stream_from_template(in_audio)
            self._packets = (p for p in container.demux(in_audio) if p.dts is not None)
            self._source_stream = in_audio
        else:
            codec = _REENCODE_AUDIO.get(ext, "aac")
            log.info("%s: re-encoding %s audio as %s for this container", source,
                     in_audio.codec_context.name, codec)
            rate = in_audio.codec_context.sample_rate or 44100
            self.stream = self.output.add_stream(codec, rate=rate)
            self.stream.layout = "stereo" if in_audio.codec_context.channels >= 2 else "mono"
            self._decoded = container.decode(in_audio)
            self._resampler = self._make_resampler()

    def _make_resampler(self) -> av.AudioResampler:
        ctx = self.stream.codec_context
        fmt = ctx.format.name if ctx.format else "fltp"
        return av.AudioResampler(format=fmt, layout=ctx.layout.name, rate=ctx.sample_rate)

    @staticmethod
    def _chunks(data: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
        layout = "stereo" if data.shape[0] == 2 else "mono"
        step = 1024
        for start in range(0, data.shape[1], step):
            chunk = np.ascontiguousarray(data[:, start:start + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            yield frame

    def advance(self, until: float | None) -> None:
        """Mux audio up to ``until`` seconds (everything when ``None``)."""
        if self.stream is None or self._done:
            return
        if self._packets is not None:
            for packet in self._packets:
                packet.stream = self.stream
                time = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
                self.output.mux(packet)
                if until is not None and time > until:
                    return
        elif self._decoded is not None:
            for frame in self._decoded:
                time = frame.time  # read before the resampler and encoder retime the stream
                frame.pts = None
                for out in self._resampler.resample(frame):
                    self.output.mux(self.stream.encode(out))
                if until is not None and time is not None and time > until:
                    return
            for out in self._resampler.resample(None):
                self.output.mux(self.stream.encode(out))
            self.output.mux(self.stream.encode(None))
        self._done = True

    def close(self) -> None:
        """Close the source file the audio comes from, if any."""
        if self._in is not None:
            self._in.close()

