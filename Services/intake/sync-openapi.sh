#!/bin/sh
# Regenerates Library/OpenAPIDocument.swift from openapi.yaml (the served copy).
set -eu
cd "$(dirname "$0")"
{
    printf '%s\n' '/// The intake API'"'"'s OpenAPI 3.1 document, served at `/openapi.yaml`. A copy of' \
        '/// `Services/intake/openapi.yaml` (a test keeps them equal; run `Services/intake/sync-openapi.sh`' \
        '/// after editing the YAML).' 'enum OpenAPIDocument {' '    static let yaml = #"""'
    cat openapi.yaml
    echo  # the newline before the closing delimiter is not part of the literal
    printf '%s\n' '"""#' '}'
} > Library/OpenAPIDocument.swift
