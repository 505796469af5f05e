import { ApiProperty } from '@nestjs/swagger';
import { JSON_VALUE } from '@app/common';

/**
 * The wire shape of /traces, identical whichever Langfuse API generation
 * served it. Classes (decorated for /openapi.json) used as plain types: the
 * readers build object literals of these shapes.
 */
const ANY_JSON = { ...JSON_VALUE, description: 'Any JSON value (OpenAI messages for a generation).' } as const;

export class ObservationView {
  @ApiProperty({ example: 'obs-1' })
  id: string;

  @ApiProperty({ type: String, nullable: true, example: 'GENERATION', description: 'GENERATION, SPAN, EVENT, …' })
  type: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'chat.completions' })
  name: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  start_time: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  end_time: string | null;

  @ApiProperty({ ...ANY_JSON, example: [{ role: 'user', content: 'Say hello.' }] })
  input: unknown;

  @ApiProperty({ ...ANY_JSON, example: { role: 'assistant', content: 'Hello!' } })
  output: unknown;

  @ApiProperty({ type: String, nullable: true })
  parent_observation_id: string | null;
}

export class TraceView {
  @ApiProperty({ example: '0af7651916cd43dd8448eb211c80319c' })
  id: string;

  @ApiProperty({ type: String, nullable: true, example: 'chat.completions' })
  name: string | null;

  @ApiProperty({ type: String, nullable: true })
  user_id: string | null;

  @ApiProperty({ type: String, nullable: true })
  session_id: string | null;

  @ApiProperty({
    type: [String],
    description: 'A tracked completion’s: rollout_id, insertion_id, invocation_id, experiment_id, run_id, row_id (after any tags of the client).',
    example: ['rollout_id:r-42', 'insertion_id:0194f3a2-7c1e-7b3a-9f00-3c5d2e1a4b6c', 'invocation_id:inv-1', 'experiment_id:exp-1', 'run_id:run-1', 'row_id:row-1'],
  })
  tags: string[];

  /** ISO 8601 */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  timestamp: string | null;

  @ApiProperty({ ...ANY_JSON, example: [{ role: 'user', content: 'Say hello.' }] })
  input: unknown;

  @ApiProperty({ ...ANY_JSON, example: { role: 'assistant', content: 'Hello!' } })
  output: unknown;

  @ApiProperty({ ...JSON_VALUE, description: 'The trace metadata (a tracked completion’s ids among it).' })
  metadata: unknown;

  @ApiProperty({ type: [ObservationView], description: 'Ordered by start time.' })
  observations: ObservationView[];
}

export class TracesResponse {
  @ApiProperty({ example: 'proj-a' })
  project_id: string;

  @ApiProperty({ example: 1 })
  total_traces: number;

  @ApiProperty({ type: [TraceView], description: 'Newest first. A rollout read holds every recorded completion (or the call failed with 404).' })
  traces: TraceView[];
}

/** Just enough of a trace to know it is visible (no bodies). */
export interface TraceHeader {
  id: string;
  tags: string[];
}

/** What to read from Langfuse: every `tags` (all of) and, when given, at least one of `anyTags`. */
export interface TraceFilter {
  tags: string[];
  anyTags?: string[];
  userId?: string;
  sessionId?: string;
  name?: string;
  environment?: string;
  version?: string;
  release?: string;
  /** ISO 8601, inclusive */
  fromTimestamp?: string;
  /** ISO 8601, exclusive */
  toTimestamp?: string;
}


