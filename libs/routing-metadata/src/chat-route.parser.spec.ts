import { GatewayError, GatewayErrorCode } from '@app/common';
import { buildMetadataTags, buildTrailTags, CHAT_COMPLETION_PATHS, decodeBaseUrl, mergeTags, parseChatRoute } from './chat-route.parser';

const b64 = (s: string, pad = true) => {
  const e = Buffer.from(s).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  return pad ? e : e.replace(/=+$/, '');
};

describe('parseChatRoute', () => {
  it('parses a full metadata route with project and base url', () => {
    const route = parseChatRoute({
      project_id: 'p1', rollout_id: 'r', invocation_id: 'i', experiment_id: 'e', run_id: 'u', row_id: 'w', encoded_base_url: b64('https://h.example/v1'),
    });
    expect(route.projectId).toBe('p1');
    expect(route.metadata).toEqual({ rolloutId: 'r', invocationId: 'i', experimentId: 'e', runId: 'u', rowId: 'w' });
    expect(route.baseUrl?.toString()).toBe('https://h.example/v1');
  });

  it('a trail route: the trail, tracked with exactly two tags', () => {
    expect(parseChatRoute({ project_id: 'p', trail_id: 't-1' })).toEqual({ projectId: 'p', trailId: 't-1' });
    expect(buildTrailTags('t-1', 'x')).toEqual(['trail_id:t-1', 'insertion_id:x']);
    expect(() => parseChatRoute({ trail_id: '' })).toThrow(/trail_id is empty/);
  });

  it('leaves metadata undefined on project-only and plain routes', () => {
    expect(parseChatRoute({ project_id: 'p' })).toEqual({ projectId: 'p' });
    expect(parseChatRoute({})).toEqual({});
  });

  it('rejects over-long ids', () => {
    expect(() => parseChatRoute({ rollout_id: 'x'.repeat(300), invocation_id: 'i', experiment_id: 'e', run_id: 'u', row_id: 'w' })).toThrow(/rollout_id is longer/);
  });
});

describe('decodeBaseUrl', () => {
  it.each([
    ['padded', b64('http://10.0.0.1:8000/v1', true)],
    ['unpadded', b64('http://10.0.0.1:8000/v1', false)],
    ['standard alphabet', Buffer.from('http://10.0.0.1:8000/v1').toString('base64')],
  ])('accepts %s base64', (_, enc) => {
    expect(decodeBaseUrl(enc).toString()).toBe('http://10.0.0.1:8000/v1');
  });

  it.each([
    ['not base64', '!!!'],
    ['not a URL', b64('just text')],
    ['ftp URL', b64('ftp://host/x')],
    ['javascript URL', b64('javascript:alert(1)')],
    ['credentials in URL', b64('https://user:pw@host/v1')],
  ])('rejects %s with a 400-class error', (_, enc) => {
    let caught: unknown;
    try {
      decodeBaseUrl(enc);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).code).toBe(GatewayErrorCode.InvalidEncodedBaseUrl);
    expect((caught as GatewayError).status).toBe(400);
  });
});

describe('tags', () => {
  const meta = { rolloutId: 'r', invocationId: 'i', experimentId: 'e', runId: 'u', rowId: 'w' };

  it('builds the six tags in order', () => {
    expect(buildMetadataTags(meta, 'X')).toEqual(['rollout_id:r', 'insertion_id:X', 'invocation_id:i', 'experiment_id:e', 'run_id:u', 'row_id:w']);
  });

  it('appends ours to the client tags without duplicates, ignoring non-strings', () => {
    expect(mergeTags(['mine', 'rollout_id:r', 3], ['rollout_id:r', 'run_id:u'])).toEqual(['mine', 'rollout_id:r', 'run_id:u']);
    expect(mergeTags(undefined, ['a'])).toEqual(['a']);
  });
});

describe('CHAT_COMPLETION_PATHS', () => {
  it('covers every route shape with and without /v1', () => {
    expect(CHAT_COMPLETION_PATHS).toHaveLength(16);
    expect(CHAT_COMPLETION_PATHS).toContain('/trails/:trail_id/chat/completions');
    expect(CHAT_COMPLETION_PATHS).toContain('/v1/project_id/:project_id/trails/:trail_id/chat/completions');
    expect(CHAT_COMPLETION_PATHS).toContain('/chat/completions');
    expect(CHAT_COMPLETION_PATHS).toContain('/v1/chat/completions');
    expect(CHAT_COMPLETION_PATHS).toContain('/project_id/:project_id/chat/completions');
    expect(CHAT_COMPLETION_PATHS.filter((p) => p.includes('encoded_base_url'))).toHaveLength(4);
  });
});
