"""A disc rip as MakeMKV writes one, for the tests and ``scripts/robustness.py``: video, then
subtitles and audio that outlast it (vidcolor must read the whole video of such a file, judging
truncation on the video stream alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_rip(path: Path, frames: list[np.ndarray], samples: np.ndarray, sample_rate: int, *,
              fps: int = 24, subtitles_until: float = 9.0) -> Path:
    """Write RGB ``frames`` (H.264 at ``fps``), AAC ``samples`` ``(channels, n)`` and subtitles
    whose last line ends at ``subtitles_until`` seconds (under 10) to an MKV at ``path``.

    The subtitles are stream-copied from an SRT file (PyAV's subrip encoder needs a header the
    muxer does not give it). Matroska video streams carry no duration of their own, so the
    container's duration is the subtitles'.
    """
    import av

    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,500 --> 00:00:01,500\nHello\n\n"
                   f"2\n00:00:0{subtitles_until - 1:.0f},000 --> 00:00:0{subtitles_until:.0f},000"
                   "\nThe last line\n\n")
    samples = np.ascontiguousarray(samples, np.float32)
    with av.open(str(srt)) as captions, av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = "yuv420p"
        caption_in = captions.streams.subtitles[0]
        caption_out = out.add_stream_from_template(caption_in)
        audio = out.add_stream("aac", rate=sample_rate)
        audio.layout = "mono" if samples.shape[0] == 1 else "stereo"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        sound = av.AudioFrame.from_ndarray(samples, format="fltp", layout=audio.layout.name)
        sound.sample_rate = sample_rate
        for packet in [*audio.encode(sound), *audio.encode(None)]:
            out.mux(packet)
        for packet in captions.demux(caption_in):
            if packet.dts is not None:
                packet.stream = caption_out
                out.mux(packet)
    srt.unlink()
    return path
