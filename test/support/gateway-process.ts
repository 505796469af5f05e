/**
 * The built gateway (`dist/`, what `npm start` runs) as a real child process,
 * for fault tests that signal it, kill what it depends on, or restart it.
 * `npm test` builds first; running a fault spec alone needs `npm run build`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './redis';

const MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'gateway', 'src', 'main.js');

export interface GatewayProcess {
  url: string;
  pid: number;
  /** Everything it printed (stdout and stderr), line by line. */
  lines: string[];
  /** Resolves with the exit code (or signal) once the process ended. */
  exited: Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL if still running; waits for the exit. */
  kill(): Promise<void>;
}

/** Starts `node dist/apps/gateway/src/main.js` with `env` (and only PATH besides) on a free port; resolves once it listens. */
export async function startGatewayProcess(env: Record<string, string>, timeoutMs = 20_000): Promise<GatewayProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: run \`npm run build\` (npm test does) before the fault specs.`);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_FORMAT: 'text', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    // eslint-disable-next-line no-control-regex
    for (const line of parts) lines.push(line.replace(/\x1b\[[0-9;]*m/g, ''));
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const deadline = Date.now() + timeoutMs;
  while (!lines.some((l) => l.includes('Listening on'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The gateway process did not start:\n${lines.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    lines,
    exited,
    signal: (signal) => void child.kill(signal),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
