"""The root of every error microtrace raises for its user, and its two branches.

    MicrotraceError          one line meant for the user (no traceback), exit code `exit_code`
    ├── BadInput             the input cannot be used: options, files, runs, traces, data (exit 2)
    └── WorkFailed           the input was fine but the work failed (exit 1, or the class's own code:
                             a diverged run 1, Graphviz's dot missing 3, training interrupted 130)

Every library error class subclasses one branch (LimitError, TraceError, RunError, DataError,
RenderError, ...; docs/architecture.md lists them), so a notebook catches `MicrotraceError` and the
command line turns each into one `Error:` line and its exit code in one place (`cli.checks`).

A message names the library's own arguments, never a command-line option: `setting` is the argument at
fault ("eps", "steps", "max_memory_gb"), and `worded(option)` says the same with the command line's name
for it (LimitError words it as a way to raise the limit).
"""


class MicrotraceError(Exception):
    """An error meant for the user: one line. `setting`: the argument at fault, or None."""

    exit_code = 2

    def __init__(self, message="", setting=None):
        super().__init__(message)
        self.setting = setting

    def worded(self, option):
        """The message with `option` (the command line's name for `setting`) for the argument: in place of
        the argument's name where the message starts with it ("eps 1e-12 makes ..."), else in front."""
        message = str(self)
        if not option or not self.setting:
            return message
        if message.startswith(self.setting + " "):
            return option + message[len(self.setting) :]
        return f"{option} {message}"


class BadInput(MicrotraceError):
    """The input cannot be used (an option, a file, a run, a trace, the data): exit code 2."""

    exit_code = 2


class WorkFailed(MicrotraceError):
    """The input was fine but the work failed: exit code 1 unless the class says otherwise."""

    exit_code = 1
