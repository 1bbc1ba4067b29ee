"""Built-in plugins, registered exactly like installed ones."""
