// The HTTP server lives here (issue 3).
