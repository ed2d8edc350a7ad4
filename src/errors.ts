// Named error classes with stable codes; messages say what to change.

export class TickplantError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad configuration: the message names the option and its environment variable. Exit 1. */
export class ConfigError extends TickplantError {
  constructor(message: string) {
    super('config_invalid', message);
  }
}

/**
 * Start-up cannot succeed until the operator acts (a port taken, a data directory in use, a
 * damaged journal, an actor failing to start again and again): the message names the cause and
 * the fix. Never retried; the process prints it as its last line and exits 1.
 */
export class StartupError extends TickplantError {
  constructor(message: string, code = 'startup_failed') {
    super(code, message);
  }
}
