// The HTTP1 module; see ARCHITECTURE.md.
