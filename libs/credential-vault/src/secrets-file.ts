import { plainToInstance, Type } from 'class-transformer';
import { ArrayUnique, IsArray, IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, MinLength, ValidateNested, validateSync, ValidationError } from 'class-validator';
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

// The file's shape, as class-validator DTOs. Messages name what is wrong,
// never the value (the validator's messages below carry no $value).
const NON_EMPTY = { message: 'missing or not a string' };

class ProjectKeysDto {
  @IsString(NON_EMPTY)
  @IsNotEmpty(NON_EMPTY)
  public_key: string;

  @IsString(NON_EMPTY)
  @IsNotEmpty(NON_EMPTY)
  secret_key: string;

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true }, { message: 'must be an http(s) URL' })
  host?: string;
}

class ApiKeyDto {
  @IsString(NON_EMPTY)
  @IsNotEmpty(NON_EMPTY)
  account_id: string;

  @IsOptional()
  @IsString({ message: 'must be a string of at least 16 characters' })
  @MinLength(16, { message: 'must be a string of at least 16 characters' })
  key?: string;

  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/i, { message: 'must be 64 hex characters' })
  key_sha256?: string;

  @IsOptional()
  @IsArray({ message: 'must be a list of project ids' })
  @IsString({ each: true, message: 'must be a list of project ids' })
  @ArrayUnique({ message: 'lists a project twice' })
  projects?: string[];
}

class SecretsFileDto {
  @IsOptional()
  @IsObject({ message: 'must map project ids to {public_key, secret_key}' })
  @ValidateNested({ each: true })
  @Type(() => ProjectKeysDto)
  langfuse_keys?: Map<string, ProjectKeysDto>;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  default_project_id?: string;

  @IsOptional()
  @IsArray({ message: 'must be a list of {account_id, key | key_sha256, projects}' })
  @ValidateNested({ each: true })
  @Type(() => ApiKeyDto)
  api_keys?: ApiKeyDto[];
}

/**
 * Parses and validates the secrets YAML. Every problem is reported at once,
 * each naming the file key; values are never echoed back.
 */
export function loadSecretsFile(path: string, sha256: (s: string) => string): SecretsFile {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid YAML (${(err as Error).message.split('\n')[0]})`;
    throw new SecretsFileError(path, [reason]);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SecretsFileError(path, ['the top level must be a mapping with langfuse_keys, default_project_id, api_keys']);
  }
  const dto = plainToInstance(SecretsFileDto, doc);
  const problems = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false }).flatMap((e) => describe(e, ''));

  const projects = new Map<string, ProjectKeys>();
  for (const [id, keys] of dto.langfuse_keys instanceof Map ? dto.langfuse_keys : []) {
    if (typeof keys?.public_key !== 'string' || typeof keys.secret_key !== 'string') continue;
    projects.set(id, { publicKey: keys.public_key.trim(), secretKey: keys.secret_key.trim(), host: keys.host?.replace(/\/+$/, '') });
  }

  // The rules that span keys.
  let defaultProjectId = dto.default_project_id;
  if (typeof defaultProjectId === 'string') {
    if (!projects.has(defaultProjectId) && problems.length === 0) problems.push(`default_project_id: "${defaultProjectId}" is not a project under langfuse_keys`);
  } else if (defaultProjectId === undefined && projects.size === 1) {
    defaultProjectId = [...projects.keys()][0];
  } else if (defaultProjectId === undefined && projects.size > 1) {
    problems.push('default_project_id: required when langfuse_keys has more than one project');
  }

  const apiKeys: ApiKeyEntry[] = [];
  (Array.isArray(dto.api_keys) ? dto.api_keys : []).forEach((entry, i) => {
    const where = `api_keys[${i}]`;
    if (entry?.key === undefined && entry?.key_sha256 === undefined) problems.push(`${where}: needs key or key_sha256`);
    for (const p of Array.isArray(entry?.projects) ? entry.projects : []) {
      if (typeof p === 'string' && !projects.has(p)) problems.push(`${where}.projects: "${p}" is not a project under langfuse_keys`);
    }
    if (typeof entry?.account_id !== 'string') return;
    const keySha256 = typeof entry.key_sha256 === 'string' ? entry.key_sha256.toLowerCase() : typeof entry.key === 'string' ? sha256(entry.key) : undefined;
    if (keySha256) apiKeys.push({ accountId: entry.account_id, keySha256, projects: entry.projects });
  });

  if (problems.length > 0) throw new SecretsFileError(path, problems);
  return { projects, defaultProjectId, apiKeys };
}

/** `langfuse_keys.p1.secret_key: missing or not a string`, for every leaf of the validator's error tree. */
function describe(error: ValidationError, parent: string): string[] {
  const path = !parent ? error.property : /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`;
  const own = Object.entries(error.constraints ?? {}).map(([kind, message]) =>
    kind === 'whitelistValidation' ? `${path}: unknown key` : kind === 'nestedValidation' ? `${path}: must be a mapping` : `${path}: ${message}`,
  );
  return [...new Set(own), ...(error.children ?? []).flatMap((child) => describe(child, path))];
}
