"""Training of the colourisation networks (SPEC §6, thesis ch. 7), single process or DDP.

:func:`vidcolor.training.loop.train` is the one call; it reads as named steps, in the shape
of the torchvision references. The modules, in the order a run meets them:

- :mod:`~vidcolor.training.config`: :class:`~vidcolor.training.config.TrainConfig`, the
  run's options, checked when made;
- :mod:`~vidcolor.training.resume`: continuing a run (``--resume``): its options, its
  checkpoint, its dataset;
- :mod:`~vidcolor.training.setup`: data, model, optimiser, scheduler and resume point of a run;
- :mod:`~vidcolor.training.data`: the training frames, the seeded sampler and the loaders;
- :mod:`~vidcolor.training.targets`: the gamut, the prior and the rebalancing weights;
- :mod:`~vidcolor.training.step`: one micro-batch's Lab, loss, forward and backward;
- :mod:`~vidcolor.training.distributed`: ranks and collectives under ``torchrun``;
- :mod:`~vidcolor.training.loop`: ``train``, one epoch, the test loss, the save;
- :mod:`~vidcolor.training.run_log`: the run's per-epoch log.

Checkpoints themselves are :mod:`vidcolor.checkpoint`'s.
"""
