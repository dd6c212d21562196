"""JupyterHub configuration of a TwinSpace hub: everything is built by twinspace_hub.config.

Settings come from the environment (TWINSPACE_DATA_DIR, TWINSPACE_DB_URL, …; see
README.md) or from `c.TwinSpaceHub.<option>` lines added below.
"""

from twinspace_hub.config import configure

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file
configure(c)
