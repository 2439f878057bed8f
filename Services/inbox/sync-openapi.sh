#!/bin/sh
# Regenerates Library/OpenAPIDocument.swift from openapi.yaml (the served copy).
set -eu
cd "$(dirname "$0")"
{
    printf '%s\n' '/// The inbox API'"'"'s OpenAPI 3.1 document, served at `/openapi.yaml`. A copy of' \
        '/// `Services/inbox/openapi.yaml` (a test keeps them equal; run `Services/inbox/sync-openapi.sh`' \
        '/// after editing the YAML).' 'enum OpenAPIDocument {' '    static let yaml = #"""'
    cat openapi.yaml
    printf '%s\n' '"""#' '}'
} > Library/OpenAPIDocument.swift
