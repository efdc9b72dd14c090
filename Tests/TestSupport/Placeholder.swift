// Test support; see ARCHITECTURE.md.
