"""The fast path: Atari games stepped in C++ threads by envpool, contacts once per agent step.

The twin of the per-frame path (:func:`envs.atari.make_env`), for throughput:

* :mod:`envs.fast.batched`: the RAM of ``n`` games -> their objects in one NumPy call;
* :mod:`envs.fast.swept`: contacts along the objects' paths between two agent steps,
  and derived objects (Skiing's gates) passed or missed per step;
* :mod:`envs.fast.envpool_vec`: envpool + both of the above, as a Gymnasium vector env
  and an SB3 ``VecEnv`` (``make_vec_env(..., backend="envpool")``,
  ``agents.train --env-backend envpool``).

It shares the game registry, the object types, the derived-object rules and the
observation layout with the per-frame path (the modules directly under :mod:`envs`).
"""
