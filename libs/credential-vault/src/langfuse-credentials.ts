import { inspect } from 'node:util';

/**
 * A project's Langfuse keys. The class hides its secret from JSON and
 * util.inspect, so logging or serialising it can never leak the key.
 */
export class LangfuseCredentials {
  readonly #secretKey: string;

  constructor(
    readonly projectId: string,
    readonly publicKey: string,
    secretKey: string,
    readonly host: string,
  ) {
    this.#secretKey = secretKey;
  }

  get secretKey(): string {
    return this.#secretKey;
  }

  toJSON(): Record<string, string> {
    return { projectId: this.projectId, host: this.host, publicKey: '[redacted]', secretKey: '[redacted]' };
  }

  [inspect.custom](): string {
    return `LangfuseCredentials(${this.projectId} @ ${this.host})`;
  }
}
