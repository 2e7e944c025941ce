"""Video input and output with PyAV.

Reading streams RGB frames with their presentation timestamps, so memory stays flat however long
the file is. Writing produces H.264 at the source's exact frame rate (a
:class:`~fractions.Fraction`, never rounded) and timestamps, with audio carried over from a
source file (stream-copied where the container accepts the codec, re-encoded otherwise) or
generated samples. Outputs are written under
a temporary name and renamed when complete (:func:`vidcolor.fsutil.atomic_path`).

- :mod:`~vidcolor.video.inputs`: an input file checked and opened, PyAV's errors as one line.
- :mod:`~vidcolor.video.probe`: what a file declares (:class:`~vidcolor.video.probe.VideoInfo`).
- :mod:`~vidcolor.video.decode`: frames decoded one at a time as RGB
  (:func:`~vidcolor.video.decode.iter_frames`).
- :mod:`~vidcolor.video.audio`: a source's audio, or generated samples, muxed into an output.
- :mod:`~vidcolor.video.writer`: RGB frames written as H.264
  (:class:`~vidcolor.video.writer.VideoWriter`).
"""
