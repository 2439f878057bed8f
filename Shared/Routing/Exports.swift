// The rule types routing evaluates live in `RoutingRules`, a module without dependencies, so the
// admin store can validate rules with exactly the parser routing uses (one validator, the
// consumer's) without depending on routing. Users of `Routing` see them as before.
@_exported import RoutingRules
