"""A synthetic cartoon series, generated deterministically from a seed, for demos and tests.

The series needs no downloaded media. Every episode is a colour video with an audio track and a
black-and-white twin (the same frames reduced to grey, written as R = G = B: by default each
pixel's luminance, or the luma an archive's copy has, see :data:`vidcolor.color.grey.GREY_MODELS`;
optionally worn like a film print, :mod:`vidcolor.film`, while the colour stays clean).

What is in it, and why:

* A recurring cast of five characters, flat-coloured shapes with dark outlines, each always in its
  own colours. Two of them, the red round "Rosso" and the green tall "Verde", have the same
  luminance (Lab L within 0.1), so their colour cannot be told from the grey level alone; the
  shape tells them apart, which is what a network has to learn.
* Four locations as flat backgrounds: a meadow (light, weakly saturated sky over grass) and three
  interiors with coloured walls.
* Motion (translation with bounces, scaling, rotation), scene cuts, and held drawings: each
  drawing is shown for 2 or 3 identical frames, as animation "on twos and threes". Consecutive
  drawings are nudged apart until their mean squared difference exceeds
  :data:`~vidcolor.demo.episode.MIN_DRAWING_MSE`, so a dedup threshold of 20 keeps exactly one
  frame per drawing.
* Opening and closing credits: a saturated blue screen (RGB
  :data:`~vidcolor.demo.drawing.CREDIT_BLUE`, HSV saturation 255, hue 233 degrees) with
  centred white text, faded in from and out to black. Story frames never show large
  saturated-blue areas, so a credit filter can drop every credit frame and no story frame.

The modules, from the bottom up:

- :mod:`~vidcolor.demo.cast`: the characters and locations, with their fixed colours.
- :mod:`~vidcolor.demo.drawing`: drawing them, and the credit cards, with OpenCV.
- :mod:`~vidcolor.demo.scenes`: a shot planned from the seed (where, who, how they move).
- :mod:`~vidcolor.demo.episode`: :func:`~vidcolor.demo.episode.iter_episode_frames`, the pure
  generator of an episode's frames (arrays, no files): credits, shots, held drawings.
- :mod:`~vidcolor.demo.twins`: the black-and-white twin of a colour frame.
- :mod:`~vidcolor.demo.generate`: :func:`~vidcolor.demo.generate.generate_episode` writes one
  episode (any length, e.g. for a memory benchmark) and
  :func:`~vidcolor.demo.generate.generate_series` writes a whole series plus ``manifest.json``.
"""
