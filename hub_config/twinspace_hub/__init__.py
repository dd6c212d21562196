"""The JupyterHub side of TwinSpace: configuration, authenticator, spawner, pages, CLI."""
