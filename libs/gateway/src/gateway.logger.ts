import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { currentRequestContext } from '@app/common';

const LEVELS: Record<string, LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  verbose: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * Nest's console logger, JSON in production, with the request id, rollout
 * id and project of the current request on every line. Nothing logs a
 * secret: Langfuse keys hide themselves from JSON and inspect
 * (LangfuseCredentials), client keys are never put in a log line.
 */
export class GatewayLogger extends ConsoleLogger {
  constructor(level: string, format: 'json' | 'text') {
    super({ json: format === 'json', logLevels: LEVELS[level] ?? LEVELS.info, colors: format === 'text' && process.stdout.isTTY });
  }

  protected getJsonLogObject(message: unknown, options: Parameters<ConsoleLogger['getJsonLogObject']>[1]) {
    const obj = super.getJsonLogObject(message, options);
    const ctx = currentRequestContext();
    if (!ctx) return obj;
    return { ...obj, request_id: ctx.requestId, rollout_id: ctx.rolloutId, ...(ctx.trailId !== undefined ? { trail_id: ctx.trailId } : {}), project_id: ctx.projectId };
  }

  protected formatContext(context: string): string {
    const base = super.formatContext(context);
    const ctx = currentRequestContext();
    if (!ctx) return base;
    return `${base}[req ${ctx.requestId}${ctx.rolloutId ? ` rollout ${ctx.rolloutId}` : ''}${ctx.trailId ? ` trail ${ctx.trailId}` : ''}] `;
  }
}
