import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SpoolSettings } from './spool.settings';

/** What one spool file held, taken by this process alone. */
export interface SpooledBatch<T> {
  file: string;
  items: T[];
  /** The items are safe elsewhere: the file goes. */
  done(): void;
  /** The items could not be taken over now: the file goes back for the next start. */
  release(): void;
}

/**
 * Files of JSON items that a stopping gateway could not hand to Redis or
 * Langfuse, per kind (`registrations`, `traces`). Written atomically (a
 * temporary name, then rename), and taken over by renaming, so when several
 * replicas share the directory each file is taken by exactly one of them.
 */
export class Spool {
  private readonly logger = new Logger('Spool');
  readonly dir: string;

  constructor(settings: SpoolSettings) {
    this.dir = settings.SPOOL_DIR;
  }

  /** Writes the items; returns the file, or undefined (logged) when the directory is not writable. */
  write<T>(kind: string, items: T[]): string | undefined {
    if (items.length === 0) return undefined;
    const name = `${kind}-${Date.now()}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}.json`;
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = join(this.dir, `.${name}.tmp`);
      writeFileSync(tmp, JSON.stringify(items));
      renameSync(tmp, join(this.dir, name));
      return join(this.dir, name);
    } catch (err) {
      this.logger.error(`Could not write ${items.length} ${kind} to the spool directory ${this.dir} (SPOOL_DIR): ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Takes over every spool file of a kind (written by any gateway sharing the directory). */
  take<T>(kind: string): SpooledBatch<T>[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.startsWith(`${kind}-`) && n.endsWith('.json'));
    } catch {
      return [];
    }
    const batches: SpooledBatch<T>[] = [];
    for (const name of names) {
      const original = join(this.dir, name);
      const claimed = `${original}.${process.pid}-${randomUUID().slice(0, 8)}.taken`;
      try {
        renameSync(original, claimed);
      } catch {
        continue; // another replica took it first
      }
      let items: T[];
      try {
        items = JSON.parse(readFileSync(claimed, 'utf8')) as T[];
        if (!Array.isArray(items)) throw new Error('not a list');
      } catch (err) {
        this.logger.error(`Spool file ${original} is unreadable (${(err as Error).message}); it is kept as ${claimed} for an operator.`);
        continue;
      }
      batches.push({
        file: original,
        items,
        done: () => rmSync(claimed, { force: true }),
        release: () => {
          try {
            renameSync(claimed, original);
          } catch (err) {
            this.logger.error(`Could not put spool file ${original} back: ${(err as Error).message}`);
          }
        },
      });
    }
    return batches;
  }
}
