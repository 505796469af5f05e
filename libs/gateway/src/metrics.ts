import { CanActivate, Controller, ExecutionContext, Get, Header, Injectable, OnModuleInit, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import type { BlockList } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Public, RequestAuthenticator } from '@app/auth';
import { ApiGatewayErrors, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { CompletionTracer, TracerStatus } from '@app/completion-forwarding';
import { RedisConnection } from '@app/redis';
import { addressBlockList, addressListHas } from './address-list';
import { AppSettings } from './app.settings';
import { BEARER_SCHEME, GATEWAY_KEY_SCHEME } from './openapi.document';

/**
 * Prometheus metrics. Route labels are Express route patterns (ids are
 * path parameters), so cardinality stays bounded.
 */
@Injectable()
export class GatewayMetrics implements OnModuleInit {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly duration = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time to the end of the response (streams: the whole stream)',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  constructor(
    private readonly tracker: RolloutTracker,
    private readonly tracer: CompletionTracer,
    private readonly redis: RedisConnection,
  ) {}

  onModuleInit(): void {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_' });
    const tracker = this.tracker;
    type Stats = ReturnType<RolloutTracker['stats']>;
    // The tracker and the Redis connection keep the counts; these read them at scrape time.
    const countOf = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect(this: Counter) {
          this.reset();
          this.inc(read());
        },
      });
    const counter = (name: string, help: string, pick: (s: Stats) => number) => countOf(name, help, () => pick(tracker.stats()));
    const gauge = (name: string, help: string, pick: (s: Stats) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect(this: Gauge) {
          this.set(pick(tracker.stats()));
        },
      });
    counter('gateway_completions_recorded_total', 'Insertion ids stored for their rollout', (s) => s.registered);
    counter('gateway_registrations_queued_total', 'Registrations that waited in the retry queue (store unreachable)', (s) => s.queued);
    const redis = this.redis;
    countOf('gateway_redis_unconfirmed_writes_total', 'Writes fewer replicas than REDIS_WAIT_REPLICAS confirmed in time (kept on the master alone)', () => redis.unconfirmedWrites);
    counter('gateway_registrations_rejected_total', 'Registrations refused because the retry queue was full (the call failed loudly)', (s) => s.rejected);
    gauge('gateway_registrations_pending', 'Registrations waiting in the retry queue now', (s) => s.pending);

    // Trace delivery: what the tracer reports (the Langfuse export: its backlog and counts).
    const tracer = this.tracer;
    // One status read per scrape (it may ask Redis), shared by the metrics below.
    let current: { at: number; status: Promise<TracerStatus | undefined> } | undefined;
    const snapshot = () => {
      if (!current || Date.now() - current.at > 500) current = { at: Date.now(), status: tracer.status().catch(() => undefined) };
      return current.status;
    };
    const read = async (pick: (s: TracerStatus) => unknown): Promise<number | undefined> => {
      const status = await snapshot();
      const value = status ? pick(status) : undefined;
      return typeof value === 'number' ? value : undefined;
    };
    const traceGauge = (name: string, help: string, pick: (s: TracerStatus) => unknown) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect(this: Gauge) {
          const value = await read(pick);
          this.reset();
          if (value !== undefined) this.set(value);
        },
      });
    const traceCounter = (name: string, help: string, pick: (s: TracerStatus) => unknown) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        async collect(this: Counter) {
          const value = await read(pick);
          this.reset();
          if (value !== undefined) this.inc(value);
        },
      });
    traceGauge('gateway_traces_waiting', "Traces waiting for Langfuse (in the Redis trace stream: every replica's)", (s) => s.waiting);
    traceGauge('gateway_traces_failing', '1 while Langfuse does not take traces (they wait and are retried)', (s) => (s.failing ? 1 : 0));
    traceCounter('gateway_traces_exported_total', 'Traces Langfuse took', (s) => s.exported);
    traceCounter('gateway_traces_dropped_total', 'Traces dropped for good (full buffer, refused as malformed): the log names their rollouts', (s) => s.dropped);
    traceCounter('gateway_trace_batches_retried_total', 'Export batches Langfuse did not take, put back to be sent again', (s) => s.retried_batches);
    traceCounter('gateway_traces_memory_fallbacks_total', 'Traces kept in memory because Redis did not confirm them in time', (s) => s.memory_fallbacks);
  }

  /** Labelled children by route, method and status: prom-client hashes a label object on every call otherwise. */
  private readonly children = new Map<string, { count: { inc(): void }; time: { observe(seconds: number): void } }>();

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${status} ${method} ${route}`;
    let child = this.children.get(key);
    if (!child) this.children.set(key, (child = { count: this.requests.labels(route, method, String(status)), time: this.duration.labels(route, method) }));
    child.count.inc();
    child.time.observe(seconds);
  }
}

/**
 * Who may scrape: a caller whose address is in METRICS_ALLOW, else whoever
 * the AuthProvider accepts, through the same RequestAuthenticator as every
 * route (so with AUTH_PROVIDER=none, everyone). The route is @Public() only
 * so that the global guard leaves the decision to this one.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  private readonly allowed: BlockList;

  constructor(
    settings: AppSettings,
    private readonly authenticator: RequestAuthenticator,
  ) {
    this.allowed = addressBlockList(settings.METRICS_ALLOW);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    // The TCP peer, not X-Forwarded-For, which any client can write.
    if (addressListHas(this.allowed, request.socket.remoteAddress)) return true;
    await this.authenticator.authenticate({ method: request.method, path: request.path, headers: request.headers });
    return true;
  }
}

@ApiTags('operations')
@Public()
@UseGuards(MetricsAccessGuard)
@Controller()
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  @Get('metrics')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description: 'Open to addresses in METRICS_ALLOW; anyone else authenticates like on any route (so it is open with AUTH_PROVIDER=none).',
  })
  // Besides the open requirement @Public() documents (METRICS_ALLOW addresses): a key like any route.
  @ApiSecurity(GATEWAY_KEY_SCHEME)
  @ApiBearerAuth(BEARER_SCHEME)
  @ApiOkResponse({
    description: 'Prometheus text exposition format 0.0.4.',
    content: { 'text/plain': { schema: { type: 'string' }, example: 'gateway_http_requests_total{route="/v1/traces",method="GET",status="200"} 3\n' } },
  })
  @ApiGatewayErrors(GatewayErrorCode.Unauthenticated)
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
