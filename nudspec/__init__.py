"""nudspec: a formal specification and model checker for the Linux neighbour
(ARP) state machine and for switch-driver designs that mirror it into a
hardware host table (bkn_tbl).

The code lives in three folders that form a pipeline, imported one way:
``nudspec.spec`` (kernel semantics and driver rules) -> ``nudspec.models``
(profiles x designs x environment as a transition system) ->
``nudspec.checker`` (engines, trace acceptance, counterexamples, CLI).
"""

__version__ = "0.1.0"
