/// The inbox API's OpenAPI 3.1 document, served at `/openapi.yaml`. A copy of
/// `Services/inbox/openapi.yaml` (a test keeps them equal; run `Services/inbox/sync-openapi.sh`
/// after editing the YAML).
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Amtsweg inbox API
  version: 1.0.0
paths: {}
"""#
}
