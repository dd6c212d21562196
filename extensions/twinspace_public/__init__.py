"""The public view: published pages of public spaces, for anyone, through a locked-down Voila."""
