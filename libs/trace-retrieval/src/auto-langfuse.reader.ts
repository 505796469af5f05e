import { Injectable, Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { CredentialVault } from '@app/credential-vault';
import { LegacyLangfuseReader } from './legacy-langfuse.reader';
import { hostNote, LangfuseConnection, LangfuseNotFound } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { TraceFilter, TraceHeader, TraceView } from './trace.model';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { V2LangfuseReader } from './v2-langfuse.reader';

export type ReadApi = 'v2' | 'legacy';

/**
 * Picks the API generation per project (LANGFUSE_READ_API). In auto mode a
 * project's first read goes to v2 and doubles as the probe: success pins v2,
 * a 404 (servers before v4, or v4 without the v2 preview) pins legacy — and a
 * legacy 404 (v4 events-only) pins v2 again. No extra probe call is spent.
 */
@Injectable()
export class AutoLangfuseReader extends LangfuseReader {
  private readonly logger = new Logger(AutoLangfuseReader.name);
  private readonly pinned = new Map<string, ReadApi>();

  constructor(
    private readonly v2: V2LangfuseReader,
    private readonly legacy: LegacyLangfuseReader,
    private readonly config: TraceRetrievalSettings,
    vault: CredentialVault,
  ) {
    super();
    vault.onReload(() => this.pinned.clear());
  }

  findTraces(conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
    return this.route(conn, (reader) => reader.findTraces(conn, filter, options));
  }

  findTraceHeaders(conn: LangfuseConnection, filter: TraceFilter, options: Pick<ReadOptions, 'budget' | 'legacyPageSize'>): Promise<TraceHeader[]> {
    return this.route(conn, (reader) => reader.findTraceHeaders(conn, filter, options));
  }

  private reader(api: ReadApi): LangfuseReader {
    return api === 'v2' ? this.v2 : this.legacy;
  }

  private async route<T>(conn: LangfuseConnection, read: (reader: LangfuseReader) => Promise<T>): Promise<T> {
    const mode = this.config.LANGFUSE_READ_API;
    if (mode !== 'auto') {
      try {
        return await read(this.reader(mode));
      } catch (err) {
        if (err instanceof LangfuseNotFound) throw missingApi(conn, mode, err, `LANGFUSE_READ_API=${mode}; set it to auto to let the gateway pick`);
        throw err;
      }
    }
    const first = this.pinned.get(conn.projectId) ?? 'v2';
    try {
      const result = await read(this.reader(first));
      this.pinned.set(conn.projectId, first);
      return result;
    } catch (err) {
      if (!(err instanceof LangfuseNotFound)) throw err;
      const other: ReadApi = first === 'v2' ? 'legacy' : 'v2';
      this.logger.log(`Project ${conn.projectId} at ${conn.host}: ${err.what} answered 404; reading through the ${other} API from now on.`);
      try {
        const result = await read(this.reader(other));
        this.pinned.set(conn.projectId, other);
        return result;
      } catch (err2) {
        if (err2 instanceof LangfuseNotFound) throw missingApi(conn, other, err2, `${err.what} answered 404 too`);
        throw err2;
      }
    }
  }
}

function missingApi(conn: LangfuseConnection, api: ReadApi, err: LangfuseNotFound, hint: string): GatewayError {
  return new GatewayError(
    GatewayErrorCode.LangfuseUnavailable,
    `The Langfuse server of project "${conn.projectId}" has no ${api} read API: ${err.what} answered 404 (${hint}); check the project's host in the gateway's secrets file.`,
    { read_api: api },
    { logDetail: hostNote(conn) },
  );
}
