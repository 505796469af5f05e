import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** One gateway API key of the secrets file, as the auth module consumes it. */
export interface ApiKeyEntry {
  accountId: string;
  /** sha256 hex of the key; plain `key` entries are hashed at load. */
  keySha256: string;
  /** Projects the key may use; undefined = all. */
  projects?: string[];
}

export interface ProjectKeys {
  publicKey: string;
  secretKey: string;
  host?: string;
}

export interface SecretsFile {
  projects: Map<string, ProjectKeys>;
  defaultProjectId?: string;
  apiKeys: ApiKeyEntry[];
}

export class SecretsFileError extends Error {
  constructor(path: string, problems: string[]) {
    super(`Invalid secrets file ${path}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SecretsFileError';
  }
}

/**
 * Parses and validates the secrets YAML. Every problem is reported at once,
 * each naming the file key; values are never echoed back.
 */
export function loadSecretsFile(path: string, sha256: (s: string) => string): SecretsFile {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid YAML (${(err as Error).message.split('\n')[0]})`;
    throw new SecretsFileError(path, [reason]);
  }
  const problems: string[] = [];
  const result: SecretsFile = { projects: new Map(), apiKeys: [] };
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SecretsFileError(path, ['the top level must be a mapping with langfuse_keys, default_project_id, api_keys']);
  }
  const root = doc as Record<string, unknown>;
  const known = new Set(['langfuse_keys', 'default_project_id', 'api_keys']);
  for (const key of Object.keys(root)) if (!known.has(key)) problems.push(`${key}: unknown key (expected langfuse_keys, default_project_id, api_keys)`);

  const keys = root.langfuse_keys;
  if (keys !== undefined && keys !== null) {
    if (typeof keys !== 'object' || Array.isArray(keys)) {
      problems.push('langfuse_keys: must map project ids to {public_key, secret_key}');
    } else {
      for (const [projectId, entry] of Object.entries(keys as Record<string, unknown>)) {
        const where = `langfuse_keys.${projectId}`;
        if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
          problems.push(`${where}: must be a mapping with public_key and secret_key`);
          continue;
        }
        const e = entry as Record<string, unknown>;
        const publicKey = e.public_key;
        const secretKey = e.secret_key;
        if (typeof publicKey !== 'string' || publicKey.trim() === '') problems.push(`${where}.public_key: missing or not a string`);
        if (typeof secretKey !== 'string' || secretKey.trim() === '') problems.push(`${where}.secret_key: missing or not a string`);
        if (e.host !== undefined && !isHttpUrl(e.host)) problems.push(`${where}.host: must be an http(s) URL`);
        for (const k of Object.keys(e)) if (!['public_key', 'secret_key', 'host'].includes(k)) problems.push(`${where}.${k}: unknown key`);
        if (typeof publicKey === 'string' && typeof secretKey === 'string') {
          result.projects.set(projectId, {
            publicKey: publicKey.trim(),
            secretKey: secretKey.trim(),
            host: typeof e.host === 'string' ? e.host.replace(/\/+$/, '') : undefined,
          });
        }
      }
    }
  }

  const def = root.default_project_id;
  if (def !== undefined && def !== null) {
    if (typeof def !== 'string') problems.push('default_project_id: must be a string');
    else if (!result.projects.has(def) && problems.length === 0) problems.push(`default_project_id: "${def}" is not a project under langfuse_keys`);
    else result.defaultProjectId = def;
  } else if (result.projects.size === 1) {
    result.defaultProjectId = [...result.projects.keys()][0];
  } else if (result.projects.size > 1) {
    problems.push('default_project_id: required when langfuse_keys has more than one project');
  }

  const apiKeys = root.api_keys;
  if (apiKeys !== undefined && apiKeys !== null) {
    if (!Array.isArray(apiKeys)) {
      problems.push('api_keys: must be a list of {account_id, key | key_sha256, projects}');
    } else {
      apiKeys.forEach((entry, i) => {
        const where = `api_keys[${i}]`;
        if (!entry || typeof entry !== 'object') return problems.push(`${where}: must be a mapping`);
        const e = entry as Record<string, unknown>;
        if (typeof e.account_id !== 'string' || !e.account_id) problems.push(`${where}.account_id: missing or not a string`);
        const hasKey = typeof e.key === 'string' && e.key.length >= 16;
        const hasHash = typeof e.key_sha256 === 'string' && /^[0-9a-f]{64}$/i.test(e.key_sha256);
        if (e.key !== undefined && !hasKey) problems.push(`${where}.key: must be a string of at least 16 characters`);
        if (e.key_sha256 !== undefined && !hasHash) problems.push(`${where}.key_sha256: must be 64 hex characters`);
        if (!hasKey && !hasHash && e.key === undefined && e.key_sha256 === undefined) problems.push(`${where}: needs key or key_sha256`);
        let projects: string[] | undefined;
        if (e.projects !== undefined) {
          if (!Array.isArray(e.projects) || e.projects.some((p) => typeof p !== 'string')) {
            problems.push(`${where}.projects: must be a list of project ids`);
          } else {
            projects = e.projects as string[];
            for (const p of projects) if (!result.projects.has(p)) problems.push(`${where}.projects: "${p}" is not a project under langfuse_keys`);
          }
        }
        if (typeof e.account_id === 'string' && (hasKey || hasHash)) {
          result.apiKeys.push({
            accountId: e.account_id,
            keySha256: hasHash ? (e.key_sha256 as string).toLowerCase() : sha256(e.key as string),
            projects,
          });
        }
        return undefined;
      });
    }
  }

  if (problems.length > 0) throw new SecretsFileError(path, problems);
  return result;
}

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
