"""`python -m twinspace_public`: the public view's server (what the hub's `public` service runs)."""

from .starting import answer_while_starting

# The port answers at once; Voila's imports (seconds) come after.
placeholder = answer_while_starting()

from .app import main  # noqa: E402

main(placeholder=placeholder)
