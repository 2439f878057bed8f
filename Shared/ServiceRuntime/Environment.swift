// Service runtime.
