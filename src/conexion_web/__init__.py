"""`conexion-web`: the Conexion TUI served to web browsers (textual-serve),
one client process per visitor, for people who have only a browser."""
