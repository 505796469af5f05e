/** The bodies of /health and /ready, for the OpenAPI document. */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class HealthBody {
  @ApiProperty({ example: 'healthy' })
  status: string;

  @ApiProperty({ example: 'metadata-proxy' })
  service: string;
}

export class ReadyStore {
  @ApiProperty({ description: 'The completeness store adapter.', example: 'redis' })
  kind: string;

  @ApiProperty()
  ok: boolean;

  @ApiPropertyOptional({ description: 'When it answered.', example: 1 })
  latency_ms?: number;

  @ApiPropertyOptional({ description: 'When it did not.' })
  error?: string;
}

export class ReadyTracking {
  @ApiProperty({ description: 'Insertion ids stored for their rollout.' })
  registered: number;

  @ApiProperty({ description: 'Registrations that waited in the retry queue.' })
  queued: number;

  @ApiProperty({ description: 'Registrations waiting in the retry queue now.' })
  pending: number;

  @ApiProperty({ description: 'Queued registrations stored since.' })
  retriedOk: number;

  @ApiProperty({ description: 'Registrations refused because the retry queue was full.' })
  rejected: number;

  @ApiProperty({ description: 'REGISTRATION_QUEUE_SIZE.' })
  queue_size: number;

  @ApiProperty({
    enum: ['this replica only'],
    description: "Whose reads count the pending registrations until the store takes them: this replica's alone. A SIGTERM writes them to SPOOL_DIR; a kill loses them.",
  })
  pending_counted_by: 'this replica only';
}

export class ReadyBody {
  @ApiProperty({
    enum: ['ready', 'degraded', 'unavailable'],
    description: '`degraded` (200): the store or Langfuse does not answer, calls still succeed. `unavailable` (503): the retry queue is full, calls would fail.',
  })
  status: 'ready' | 'degraded' | 'unavailable';

  @ApiPropertyOptional({ type: [String], description: 'Why it is not `ready`.' })
  reasons?: string[];

  @ApiProperty({ type: () => ReadyStore })
  store: ReadyStore;

  @ApiProperty({ type: () => ReadyTracking })
  tracking: ReadyTracking;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Trace delivery: `waiting` (traces not yet taken by Langfuse), `failing`, and the tracer’s counts; null when it has none.',
    example: { waiting: 0, failing: false },
  })
  traces: Record<string, unknown> | null;

  @ApiProperty({ description: 'A secrets file with Langfuse keys was loaded.' })
  tracing_configured: boolean;
}
