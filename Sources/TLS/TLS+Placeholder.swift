// The TLS module; see ARCHITECTURE.md.
