"""vidcolor: colourise black-and-white cartoon video.

The pipeline has three stages, one module (or package) each:

* ``video``, ``extract``, ``dataset``: decode episodes, drop duplicates and credits, store frames;
* ``color``, ``quantize``, ``models``, ``train``: learn ab colour histograms per pixel in Lab;
* ``infer``, ``refine``, ``ensemble``, ``render``: colourise, refine by regions, write the video.

``demo`` generates a small synthetic cartoon series so that nothing needs downloading.
"""

__version__ = "0.1.0"
