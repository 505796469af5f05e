/**
 * Copies rollout keys of the original Python gateway, or of this gateway
 * before projects were part of the key, into today's layout
 * (libs/redis/src/key-migration.ts). Reads REDIS_URL / REDIS_HOST… and
 * REDIS_KEY_PREFIX like the gateway. A dry run unless apply=true.
 *
 *   npm run migrate-keys -- from=original project=my-project scan=true
 *   npm run migrate-keys -- from=prefixed project=my-project apply=true
 *   npm run migrate-keys -- from=original project=my-project rollouts=r-1,r-2 apply=true
 */
import 'reflect-metadata';
import { migrateRolloutKeys, RedisConnection, RedisSettings } from '@app/redis';
import { SettingsSource } from '@app/settings';

const USAGE = 'usage: npm run migrate-keys -- from=original|prefixed project=<project id> [rollouts=a,b | scan=true] [apply=true]';

async function main(): Promise<number> {
  const args = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    const m = /^(?:--)?(from|project|rollouts|scan|apply)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    args.set(m[1], m[2]);
  }
  const from = args.get('from');
  if (from !== 'original' && from !== 'prefixed') throw new Error(`from= takes original (the Python gateway's keys) or prefixed (this gateway's before projects were in the key)\n${USAGE}`);
  const yes = (name: string) => /^(1|true|yes)$/i.test(args.get(name) ?? '');
  const settings = new SettingsSource().load(RedisSettings);
  const connection = new RedisConnection(settings);
  if (!connection.client) throw new Error('No Redis configured: set REDIS_URL (or REDIS_HOST) as for the gateway.');
  try {
    const report = await migrateRolloutKeys(connection.client, {
      from,
      prefix: settings.REDIS_KEY_PREFIX,
      project: args.get('project') ?? '',
      rollouts: args.get('rollouts')?.split(',').map((r) => r.trim()).filter(Boolean),
      scan: yes('scan'),
      apply: yes('apply'),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    for (const { key, reason } of report.skipped) process.stdout.write(`skipped ${key}: ${reason}\n`);
    const ids = report.copied.reduce((n, c) => n + (c.ids ?? 0), 0);
    process.stdout.write(`${yes('apply') ? 'Done' : 'Dry run (apply=true to write)'}: ${report.copied.length} key(s), ${ids} id(s); ${report.skipped.length} skipped. Old keys are left in place.\n`);
  } finally {
    await connection.onApplicationShutdown();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`migrate-keys: ${err.message}\n`);
    process.exit(1);
  },
);
