"""Self-describing training checkpoints: safetensors for tensors, JSON for everything else.

A run directory holds one pair of files per kept epoch::

    RUN/epoch-0003.safetensors   model.*  (state dict), optim.state.<param>.<key> (Adam moments),
                                 bins, prior, weights, rng.torch, rng.cuda, rng.numpy, rng.python,
                                 rng.rank.<r> (each DDP rank's torch [+ CUDA] state)
    RUN/epoch-0003.json          format, arch, variant, width, num_bins, head, grey (the
                                 grey model of the network's input; absent: luminance),
                                 epoch, config, version, optimiser param groups and scalar
                                 state, learning-rate scheduler state, RNG scalars, metrics,
                                 and the size and SHA-256 of the safetensors file
    RUN/latest.json              {"checkpoint": "epoch-0003.json", "epoch": 3}
    RUN/best.json                {"checkpoint": "epoch-0002.json", "epoch": 2, "test_loss": ...}

The tensor file is written first and the JSON last, each atomically, so a JSON descriptor only
exists for a complete checkpoint; :func:`~vidcolor.checkpoint.layout.find_latest` picks the
highest epoch with a descriptor (what ``latest.json`` names),
:func:`~vidcolor.checkpoint.layout.find_best` what ``best.json`` names: the epoch of the lowest
test loss. Only the latest few epochs and the best are kept
(:func:`~vidcolor.checkpoint.write.prune_checkpoints`); an old epoch loses its descriptor
before its tensors, so a crash never leaves a descriptor without tensors. Nothing read back is
trusted: every field of a descriptor, and every tensor's name, dtype, shape and values (finite,
in range) against the network the descriptor describes (sized first on the meta device, so a
forged size allocates nothing), is checked on load (:class:`CheckpointError` naming the file
and the field); a resume takes the optimiser's and scheduler's state only when complete and of
the run's options. Nothing is unpickled and no code runs on load.

The modules:

- :mod:`~vidcolor.checkpoint.layout`: what a checkpoint is (``CheckpointInfo``) and where its
  files lie (epoch names, the latest/best pointers);
- :mod:`~vidcolor.checkpoint.read`: reading and checking an untrusted checkpoint;
- :mod:`~vidcolor.checkpoint.write`: writing an epoch's checkpoint, pruning old ones;
- :mod:`~vidcolor.checkpoint.state`: the RNG, optimiser and scheduler state of an exact resume;
- :mod:`~vidcolor.checkpoint.model`: the network rebuilt from a checkpoint (``load_model``).
"""
