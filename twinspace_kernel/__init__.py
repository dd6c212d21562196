"""TwinSpace on Jupyter: the core (rights, store, API service, client, apps)."""
