// SHA-256 and Hex live in Shared/Digest (shared with Mail and Servicekonto); Domain users get them with `import Domain`.
@_exported import Digest
