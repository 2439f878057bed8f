#!/bin/sh
# The fault-injection test at a larger size: posts N applications (default 10,000) while a random
# service is SIGKILLed and restarted every 2 s, PostgreSQL crashes once (stop -m immediate, recovery) and the postbox sandbox
# answers 10 % of calls with 500 and 5 % with 429; then checks and prints that nothing was lost.
# CI runs the same test with 500 (deploy/test.sh). Usage: deploy/fault-test.sh [applications]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
AMTSWEG_FAULT_APPLICATIONS=${1:-10000} exec "$root/deploy/test.sh" --filter FaultInjectionTests
