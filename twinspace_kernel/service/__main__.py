"""`python -m twinspace_kernel.service` starts the TwinSpace API service."""

from .app import main

main()
