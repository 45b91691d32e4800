"""One module per command, each with run(args) -> exit status. cli.py parses
the flags and imports only the module of the command given (cli.MODULES), so
a command pays only for what it needs: those that never read a config stay
free of jsonschema and cffi by their imports alone.

Every module imports at its top what it uses, from the layers below it:
launch.py (starting processes in a container), teardown.py (ending one),
hook_points.py, state.py, cgroups/ (the Manager), and the planner and
config checks for the commands that read a config. Adding a command is a
module here, a line in cli.MODULES and its flags in cli_parser.build_parser
(and in quickargs.COMMANDS if containerd or Podman call it often).
"""
