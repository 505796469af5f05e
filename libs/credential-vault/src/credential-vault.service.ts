/**
 * credential-vault owns the secrets YAML: loading, validating, per-project
 * Langfuse keys, the default project, gateway API keys, and reloading on
 * demand. It must never serialise a secret into a response or a log line
 * (LangfuseCredentials hides its secret from JSON and inspect).
 */
import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { LangfuseCredentials } from './langfuse-credentials';
import { ApiKeyEntry, loadSecretsFile, SecretsFile } from './secrets-file';
import { VaultSettings } from './vault.settings';

const DEFAULT_SECRETS_FILE = 'secrets.yaml';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

@Injectable()
export class CredentialVault {
  private readonly logger = new Logger(CredentialVault.name);
  private secrets: SecretsFile = { projects: new Map(), apiKeys: [] };
  private credentials = new Map<string, LangfuseCredentials>();
  private readonly listeners: Array<() => void> = [];
  readonly path?: string;

  constructor(private readonly config: VaultSettings) {
    if (config.SECRETS_PATH) {
      this.path = resolve(config.SECRETS_PATH);
    } else if (existsSync(DEFAULT_SECRETS_FILE)) {
      this.path = resolve(DEFAULT_SECRETS_FILE);
    }
    this.load();
  }

  /** Re-reads the file; on error the previous secrets stay in force. */
  reload(): void {
    this.load();
    for (const listener of this.listeners) listener();
  }

  /** Called after every successful reload (e.g. to rebuild per-project exporters). */
  onReload(listener: () => void): void {
    this.listeners.push(listener);
  }

  private load(): void {
    if (!this.path) {
      this.logger.warn(
        'No secrets file (SECRETS_PATH unset and ./secrets.yaml absent): completions are forwarded, but Langfuse tracing and /traces are off.',
      );
      return;
    }
    // Explicitly configured but missing, or invalid: stop start-up with the reason.
    this.secrets = loadSecretsFile(this.path, sha256Hex);
    this.credentials = new Map(
      [...this.secrets.projects].map(([id, k]) => [id, new LangfuseCredentials(id, k.publicKey, k.secretKey, k.host ?? this.config.LANGFUSE_HOST.replace(/\/+$/, ''))]),
    );
    this.logger.log(`Loaded secrets from ${this.path}: ${this.credentials.size} Langfuse project(s), ${this.secrets.apiKeys.length} API key(s).`);
  }

  /** True when at least one Langfuse project is configured. */
  get tracingConfigured(): boolean {
    return this.credentials.size > 0;
  }

  get defaultProjectId(): string | undefined {
    return this.secrets.defaultProjectId;
  }

  projectIds(): string[] {
    return [...this.credentials.keys()];
  }

  /**
   * The project a request addresses: the explicit id, else the default.
   * Unknown ids → 404 that does not list the configured projects.
   */
  resolveProjectId(projectId?: string): string | undefined {
    if (projectId === undefined) return this.secrets.defaultProjectId;
    if (!this.credentials.has(projectId) && this.tracingConfigured) {
      throw new GatewayError(GatewayErrorCode.UnknownProject, `Unknown project_id "${projectId}".`);
    }
    return projectId;
  }

  /** Langfuse keys of a project; throws UnknownProject / TracingNotConfigured. */
  credentialsFor(projectId?: string): LangfuseCredentials {
    if (!this.tracingConfigured) {
      throw new GatewayError(
        GatewayErrorCode.TracingNotConfigured,
        'Langfuse is not configured: set SECRETS_PATH to a secrets YAML with langfuse_keys.',
      );
    }
    const id = this.resolveProjectId(projectId);
    const creds = id === undefined ? undefined : this.credentials.get(id);
    if (!creds) throw new GatewayError(GatewayErrorCode.UnknownProject, `Unknown project_id "${projectId}".`);
    return creds;
  }

  /** Credentials of a project if configured, else undefined (for best-effort tracing). */
  findCredentials(projectId?: string): LangfuseCredentials | undefined {
    const id = projectId ?? this.secrets.defaultProjectId;
    return id === undefined ? undefined : this.credentials.get(id);
  }

  apiKeys(): readonly ApiKeyEntry[] {
    return this.secrets.apiKeys;
  }
}
