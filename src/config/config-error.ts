/** A bad configuration: the message names the key and what it expects. `lfsd` exits 2 on one. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
