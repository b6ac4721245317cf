"""The ``lowlight`` command: core's subcommands (enhance, eval, info, convert, bench) and the trainer's
``train``. It sits above both layers, so neither imports the other to offer one command."""
