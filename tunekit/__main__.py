"""`python -m tunekit`: the `tunekit` command (`tunekit.cli_main`), with no script on PATH."""

from tunekit.cli_main import main
from tunekit.reproduce import typed_program

if __name__ == "__main__":
    raise SystemExit(main(prog=typed_program("python -m tunekit")))
