// The fuzzer's one error class: a run that cannot start (no server at the URL, a route missing) is reported in one line, without a stack.
export class FuzzSetupError extends Error {}
