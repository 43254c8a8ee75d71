"""The ``condense <stage>`` commands, one module each: arguments and wiring only.

A stage parses its flags (the only argparse users in the package), loads its inputs, calls the
libraries below it and writes its outputs atomically. Stages never import each other; what two
stages share lives in a library, and their shared flags in ``_args``.
"""
