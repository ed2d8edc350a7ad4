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

/** An actor failed to start repeatedly; the supervisor gives up rather than loop. */
export class StartupError extends TickplantError {
  constructor(message: string) {
    super('startup_failed', message);
  }
}
