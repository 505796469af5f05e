import { assembleV2Traces, flatMetadata, fromLegacyTrace, iso, legacyIo, LegacyTrace, V2Observation, v2Io } from './trace-mapping';

const messages = { messages: [{ role: 'user', content: 'Hi' }] };
const answer = { role: 'assistant', content: 'Hello' };
const tags = ['rollout_id:r', 'insertion_id:0190a0b0-0000-7000-8000-000000000001'];
const v2Tags = [tags[1], tags[0], tags[1]];

/** One gateway completion as the legacy detail endpoint returns it (JSON parsed). */
const legacy: LegacyTrace = {
  id: 'trace-1',
  timestamp: '2026-01-01T00:00:00.000Z',
  name: 'chat-completion',
  userId: 'u1',
  sessionId: null,
  tags,
  input: messages,
  output: answer,
  metadata: { rollout_id: 'r', row_id: 'w', scope: { name: 'metadata-gateway' }, n: 3 },
  observations: [
    {
      id: 'obs-1',
      type: 'GENERATION',
      name: 'chat-completion',
      startTime: '2026-01-01T00:00:00.000Z',
      endTime: '2026-01-01T00:00:01.500Z',
      input: messages,
      output: answer,
      parentObservationId: null,
    },
  ],
};

/** The same completion as v2 observations return it (raw strings, microseconds, trace context denormalised). */
const v2: V2Observation[] = [
  {
    id: 'obs-1',
    traceId: 'trace-1',
    type: 'GENERATION',
    name: 'chat-completion',
    startTime: '2026-01-01T00:00:00.000000Z',
    endTime: '2026-01-01T00:00:01.500000Z',
    parentObservationId: null,
    isRootObservation: true,
    userId: 'u1',
    sessionId: null,
    input: JSON.stringify(messages),
    output: JSON.stringify(answer),
    metadata: { rollout_id: 'r', row_id: 'w', 'scope.name': 'metadata-gateway', n: '3' },
    traceName: 'chat-completion',
    tags: v2Tags,
  },
];

describe('trace mapping', () => {
  const all = { io: true, observations: true };

  it('gives the same trace whichever generation served it', () => {
    const fromLegacy = fromLegacyTrace(legacy, all);
    expect(assembleV2Traces(v2, all)).toEqual([fromLegacy]);
    expect(fromLegacy).toEqual({
      id: 'trace-1',
      name: 'chat-completion',
      user_id: 'u1',
      session_id: null,
      tags: [...tags].sort(),
      timestamp: '2026-01-01T00:00:00.000Z',
      input: messages,
      output: answer,
      metadata: { rollout_id: 'r', row_id: 'w', 'scope.name': 'metadata-gateway', n: 3 },
      observations: [
        {
          id: 'obs-1',
          type: 'GENERATION',
          name: 'chat-completion',
          start_time: '2026-01-01T00:00:00.000Z',
          end_time: '2026-01-01T00:00:01.500Z',
          input: messages,
          output: answer,
          parent_observation_id: null,
        },
      ],
    });
  });

  it('takes v2 trace input/output from the root observation and orders observations by start', () => {
    const child: V2Observation = { ...v2[0], id: 'obs-0', isRootObservation: false, parentObservationId: 'obs-1', startTime: '2026-01-01T00:00:00.500Z', input: '"child"', output: 'plain text' };
    const [t] = assembleV2Traces([child, v2[0]], all);
    expect(t.input).toEqual(messages);
    expect(t.observations.map((o) => o.id)).toEqual(['obs-1', 'obs-0']);
    expect(t.observations[1].output).toBe('plain text');
  });

  it('leaves io and observations out when the fields parameter does', () => {
    expect(fromLegacyTrace(legacy, { io: false, observations: false })).toMatchObject({ input: null, output: null, metadata: null, observations: [] });
    expect(assembleV2Traces(v2, { io: false, observations: true })[0].observations[0]).toMatchObject({ input: null, output: null });
  });

  it('parses v2 raw strings as the legacy API parses stored values', () => {
    expect(v2Io('{"a":1}')).toEqual({ a: 1 });
    expect(v2Io('123')).toBe(123);
    expect(v2Io('plain text')).toBe('plain text');
    expect(v2Io('')).toBeNull();
    expect(legacyIo(undefined)).toBeNull();
    expect(flatMetadata({ a: { b: { c: 1 } }, d: [1] }, legacyIo)).toEqual({ 'a.b.c': 1, d: [1] });
    expect(flatMetadata({ 'a.b.c': '1', d: '[1]' }, v2Io)).toEqual({ 'a.b.c': 1, d: [1] });
    expect(iso(undefined)).toBeNull();
    expect(iso('2026-01-01T00:00:00.123456Z')).toBe('2026-01-01T00:00:00.123Z');
  });
});
