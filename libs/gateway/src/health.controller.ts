import { Controller, Get, HttpCode, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '@app/auth';
import { withDeadline } from '@app/common';
import { CompletenessStore, RolloutTracker, TrackingSettings } from '@app/completeness-tracking';
import { CompletionTracer } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { HealthBody, ReadyBody } from './health.model';

/**
 * Liveness, and readiness as "can this gateway keep its promise": every
 * completion it answers 200 is recorded (or queued to be), and its trace
 * kept until Langfuse takes it. A store that does not answer while the
 * retry queue has room is `degraded` (200: calls still succeed, reads of
 * /traces wait for it); a full retry queue is `unavailable` (503: calls
 * would fail, take the replica out of service).
 */
@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly store: CompletenessStore,
    private readonly tracker: RolloutTracker,
    private readonly tracking: TrackingSettings,
    private readonly tracer: CompletionTracer,
    private readonly vault: CredentialVault,
  ) {}

  /** Liveness, the original's exact body. */
  @Get(['health', 'v1/health'])
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Liveness', description: 'The original’s exact body. Open (no gateway key).' })
  @ApiOkResponse({ type: HealthBody, example: { status: 'healthy', service: 'metadata-proxy' } })
  health() {
    return { status: 'healthy', service: 'metadata-proxy' };
  }

  @Get(['ready', 'health/ready'])
  @ApiOperation({ summary: 'Readiness', description: 'Can this gateway keep its promise: the completeness store answers, and Langfuse takes traces. Open (no gateway key).' })
  @ApiOkResponse({ type: ReadyBody, description: '`ready` or `degraded`.' })
  @ApiServiceUnavailableResponse({ type: ReadyBody, description: '`unavailable`: the registration retry queue is full; take the replica out of service.' })
  async ready(@Res({ passthrough: true }) res: Response) {
    const started = Date.now();
    const [store, traces] = await Promise.all([
      withDeadline(this.store.ping(), 2_000).then(
        () => ({ kind: this.store.kind, ok: true, latency_ms: Date.now() - started }),
        (err: Error) => ({ kind: this.store.kind, ok: false, error: err.message }),
      ),
      withDeadline(this.tracer.status(), 2_000).catch(() => undefined),
    ]);
    const tracking = this.tracker.stats();
    const queueFull = tracking.pending >= this.tracking.REGISTRATION_QUEUE_SIZE;
    const reasons: string[] = [];
    if (!store.ok) reasons.push(`the completeness store does not answer; registrations wait in the retry queue (${tracking.pending} of ${this.tracking.REGISTRATION_QUEUE_SIZE})`);
    if (tracking.pending > 0) {
      // The trade-off of a replica's queue, spelled out where an operator looks.
      reasons.push(
        `${tracking.pending} registration(s) wait in this replica's retry queue: until the store takes them only this replica's reads count them (another replica's /traces may answer "Incomplete traces"); a SIGTERM writes them to SPOOL_DIR for the next start, a kill (SIGKILL, OOM) loses them`,
      );
    }
    if (traces?.failing) reasons.push(`Langfuse does not take traces now; ${traces.waiting ?? 'some'} wait and are retried`);
    const status = queueFull ? 'unavailable' : reasons.length > 0 ? 'degraded' : 'ready';
    if (queueFull) res.status(HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status,
      ...(reasons.length > 0 ? { reasons } : {}),
      store,
      tracking: { ...tracking, queue_size: this.tracking.REGISTRATION_QUEUE_SIZE, pending_counted_by: 'this replica only' },
      traces: traces ?? null,
      tracing_configured: this.vault.tracingConfigured,
    };
  }
}
