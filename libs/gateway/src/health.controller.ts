import { Controller, Get, HttpCode, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '@app/auth';
import { CompletenessStore, RolloutTracker } from '@app/completeness-tracking';
import { CredentialVault } from '@app/credential-vault';

@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly store: CompletenessStore,
    private readonly tracker: RolloutTracker,
    private readonly vault: CredentialVault,
  ) {}

  /** Liveness, the original's exact body. */
  @Get(['health', 'v1/health'])
  @HttpCode(HttpStatus.OK)
  health() {
    return { status: 'healthy', service: 'metadata-proxy' };
  }

  /** Readiness: the completeness store answers. */
  @Get(['ready', 'health/ready'])
  async ready(@Res({ passthrough: true }) res: Response) {
    const started = Date.now();
    try {
      await withTimeout(this.store.ping(), 2_000);
      return { status: 'ready', store: { kind: this.store.kind, ok: true, latency_ms: Date.now() - started }, tracking: this.tracker.stats(), tracing_configured: this.vault.tracingConfigured };
    } catch (err) {
      res.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: 'unavailable', store: { kind: this.store.kind, ok: false, error: (err as Error).message }, tracking: this.tracker.stats() };
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}
