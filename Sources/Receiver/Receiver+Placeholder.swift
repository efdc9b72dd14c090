// The Receiver module; see ARCHITECTURE.md.
