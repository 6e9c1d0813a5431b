"""Tools to look at and check the environments (training does not use them).

* ``python -m envs.tools.inspect GAME``: objects and interaction events of a run,
  printed or drawn into a GIF / PNG (``agents.evaluate --gif`` draws with it);
  ``--layout`` prints the object observation.
* :mod:`envs.tools.recall`: how many of the per-frame detector's contacts the fast
  path's per-step detector finds (``benchmarks/detector_recall.py`` runs it).
* ``python -m envs.tools.catalog``: checks (``--write`` refreshes) the shipped snapshot
  of OCAtari's object tables, ``envs/ocatari_catalog.json``.
"""
