import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { CredentialVault, sha256Hex } from './credential-vault.service';
import { SecretsFileError } from './secrets-file';

const dir = mkdtempSync(join(tmpdir(), 'vault-'));
function vaultWith(yaml: string | undefined, host = 'https://lf.example'): CredentialVault {
  const path = join(dir, `s-${Math.random()}.yaml`);
  if (yaml !== undefined) writeFileSync(path, yaml);
  return new CredentialVault({ SECRETS_PATH: path, LANGFUSE_HOST: host });
}

const GOOD = `
langfuse_keys:
  proj-a: { public_key: pk-lf-a, secret_key: sk-lf-aaaa }
  proj-b: { public_key: pk-lf-b, secret_key: sk-lf-bbbb, host: "https://eu.lf.example/" }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: "gw-key-aaaaaaaaaaaaaaaa", projects: [proj-a] }
  - { account_id: ops, key_sha256: "${sha256Hex('gw-key-opsopsopsopsops')}" }
`;

describe('CredentialVault', () => {
  it('loads projects, default, per-project host and hashed API keys', () => {
    const v = vaultWith(GOOD);
    expect(v.projectIds()).toEqual(['proj-a', 'proj-b']);
    expect(v.defaultProjectId).toBe('proj-a');
    expect(v.credentialsFor().projectId).toBe('proj-a');
    expect(v.credentialsFor('proj-b').host).toBe('https://eu.lf.example');
    expect(v.credentialsFor('proj-a').host).toBe('https://lf.example');
    expect(v.apiKeys()).toEqual([
      { accountId: 'team-a', keySha256: sha256Hex('gw-key-aaaaaaaaaaaaaaaa'), projects: ['proj-a'] },
      { accountId: 'ops', keySha256: sha256Hex('gw-key-opsopsopsopsops'), projects: undefined },
    ]);
    expect(JSON.stringify(v.apiKeys())).not.toContain('gw-key-aaaa');
  });

  it('never serialises a secret key', () => {
    const creds = vaultWith(GOOD).credentialsFor('proj-a');
    expect(creds.secretKey).toBe('sk-lf-aaaa');
    expect(JSON.stringify(creds)).not.toContain('sk-lf-aaaa');
    expect(JSON.stringify({ nested: [creds] })).not.toContain('pk-lf-a"');
    expect(inspect(creds)).not.toContain('sk-lf');
    expect(`${String(creds)}`).not.toContain('sk-lf');
  });

  it('answers 404 for an unknown project without naming the configured ones', () => {
    const v = vaultWith(GOOD);
    let err: GatewayError | undefined;
    try {
      v.credentialsFor('nope');
    } catch (e) {
      err = e as GatewayError;
    }
    expect(err?.code).toBe(GatewayErrorCode.UnknownProject);
    expect(err?.message).not.toMatch(/proj-a|proj-b/);
  });

  it('reports every problem of an invalid file at once, naming the keys and never the values', () => {
    let err: SecretsFileError | undefined;
    try {
      vaultWith(`
langfuse_keys:
  p1: { public_key: pk-1 }
  p2: { public_key: pk-2, secret_key: sk-SECRET-VALUE, colour: blue }
default_project_id: p3
api_keys:
  - { account_id: a, key: short }
typo_key: 1
`);
    } catch (e) {
      err = e as SecretsFileError;
    }
    expect(err).toBeInstanceOf(SecretsFileError);
    const msg = err!.message;
    expect(msg).toContain('langfuse_keys.p1.secret_key: missing');
    expect(msg).toContain('langfuse_keys.p2.colour: unknown key');
    expect(msg).toContain('api_keys[0].key: must be a string of at least 16 characters');
    expect(msg).toContain('typo_key: unknown key');
    expect(msg).not.toContain('sk-SECRET-VALUE');
  });

  it('rejects a default project that is not configured', () => {
    expect(() => vaultWith('langfuse_keys:\n  a: {public_key: x, secret_key: y}\ndefault_project_id: b\n')).toThrow(/default_project_id: "b" is not a project/);
  });

  it('fails start-up when an explicitly configured file is missing or not YAML', () => {
    expect(() => vaultWith(undefined)).toThrow(/file not found/);
    expect(() => vaultWith('langfuse_keys: [unclosed')).toThrow(/not valid YAML/);
  });

  it('starts with tracing off when no file is configured', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const v = new CredentialVault({ LANGFUSE_HOST: 'https://lf.example' });
      expect(v.tracingConfigured).toBe(false);
      expect(() => v.credentialsFor()).toThrow(/SECRETS_PATH/);
      expect(v.resolveProjectId('anything')).toBe('anything');
    } finally {
      process.chdir(cwd);
    }
  });

  it('keeps the previous secrets when a reload fails', () => {
    const path = join(dir, 'reload.yaml');
    writeFileSync(path, GOOD);
    const v = new CredentialVault({ SECRETS_PATH: path, LANGFUSE_HOST: 'https://lf.example' });
    writeFileSync(path, 'langfuse_keys: {broken: 1}');
    expect(() => v.reload()).toThrow(SecretsFileError);
    expect(v.projectIds()).toEqual(['proj-a', 'proj-b']);
  });
});
