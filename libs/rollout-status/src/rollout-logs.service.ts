import { Injectable, Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import type { RolloutRef } from '@app/routing-metadata';
import { parseLogEntry } from './log-entry.parser';
import { LogsQuery } from './logs.query';
import { StoredLogEntry } from './rollout-log.entry';
import { RolloutLogStore } from './rollout-log.store';
import { LogEntryView, LogListView, PostedLogView, StatusView } from './rollout-status.model';
import { RolloutStatusSettings } from './rollout-status.settings';

/** Entries read per store round-trip while filtering a GET /logs. */
const PAGE_SIZE = 200;

/** Records and reads rollout logs and statuses; knows nothing about HTTP. */
@Injectable()
export class RolloutLogsService {
  private readonly logger = new Logger(RolloutLogsService.name);

  constructor(
    private readonly store: RolloutLogStore,
    private readonly config: RolloutStatusSettings,
  ) {}

  /** Validates one posted entry and appends it to every rollout its tags name, in the caller's project. */
  async post(body: unknown, projectId: string | undefined): Promise<PostedLogView> {
    const { rolloutIds, entry } = parseLogEntry(body, this.config);
    await this.guard('store the log entry', () => Promise.all(rolloutIds.map((rolloutId) => this.store.append({ projectId, rolloutId }, entry))));
    return { ok: true, rollout_ids: rolloutIds, timestamp: new Date(entry.ts).toISOString() };
  }

  /**
   * Entries of one rollout, newest first, that carry every requested tag,
   * match `program` and are within `hours_back`. Pages through the bounded
   * list and stops at `limit` or at the first entry older than the window.
   */
  async query(q: LogsQuery, projectId: string | undefined): Promise<LogListView> {
    const rollout = { projectId, rolloutId: q.rolloutId };
    const matches: StoredLogEntry[] = [];
    const seen = new Set<string>();
    let offset = 0;
    scan: while (matches.length < q.limit && offset < this.config.ROLLOUT_LOGS_MAX_ENTRIES) {
      const page = await this.guard('read the logs', () => this.store.range(rollout, offset, PAGE_SIZE));
      if (page.length === 0) break;
      offset += PAGE_SIZE;
      for (const entry of page) {
        // Entries pushed while we page shift the list; an entry seen twice is skipped.
        if (seen.has(entry.id)) continue;
        seen.add(entry.id);
        if (q.since !== undefined && entry.ts < q.since) break scan;
        if (q.program !== undefined && entry.program !== q.program) continue;
        if (!q.tags.every((t) => entry.tags.includes(t))) continue;
        matches.push(entry);
        if (matches.length === q.limit) break scan;
      }
    }
    return { entries: matches.map(toView), total_entries: matches.length };
  }

  async status(rollout: RolloutRef): Promise<StatusView> {
    const stored = await this.guard('read the status', () => this.store.latestStatus(rollout));
    return {
      rollout_id: rollout.rolloutId,
      status: stored?.status ?? null,
      extras: stored?.extras ?? null,
      timestamp: stored ? new Date(stored.ts).toISOString() : null,
    };
  }

  async count(rollout: RolloutRef): Promise<number> {
    return this.guard('count the logs', () => this.store.count(rollout));
  }

  private async guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.logger.error(`Could not ${what}: ${(err as Error).message}`);
      throw new GatewayError(GatewayErrorCode.TrackingUnavailable, `The rollout log store (${this.store.kind}) is unreachable: could not ${what}. Retry later.`);
    }
  }
}

function toView(entry: StoredLogEntry): LogEntryView {
  return {
    timestamp: new Date(entry.ts).toISOString(),
    message: entry.message,
    severity: entry.severity,
    tags: entry.tags,
    status: entry.status,
    extras: entry.extras,
    program: entry.program,
  };
}
