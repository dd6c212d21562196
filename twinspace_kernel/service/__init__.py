"""The TwinSpace API: a hub-managed Tornado service owning the database and files."""
