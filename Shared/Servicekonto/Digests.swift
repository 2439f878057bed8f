// SHA-512 (the contract's sha512sum) lives in Shared/Digest; users of the contract get it with `import Servicekonto`.
@_exported import Digest
