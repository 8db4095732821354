"""Command-line interface (a thin layer over the library).

A module per command group (:mod:`forestsink.cli.main` holds the group, the
error policy and the list of commands; :mod:`forestsink.cli.options` the
shared options and logging). Each command parses, calls one library
function and prints. The top layer of the contract: it may import every
forestsink package.
"""
