"""A data-disclosure gateway between a store's order pipeline and the outside world.

A package per domain concept (the README's Layout names each): ``policy``, ``record``,
``operations``, ``staff``, ``review``, ``authority``, ``erasure``, ``transparency``,
``witness``, ``config``; the edges ``http`` and ``cli`` (and ``demo``) over them; ``wiring``
builds the store, the record and the carriers for all of them alike."""
