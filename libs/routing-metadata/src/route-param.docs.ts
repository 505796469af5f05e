import { applyDecorators } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';
import { ChatRouteParams, MAX_ID_LENGTH } from './chat-route.parser';

/** What each path parameter of the contract means, for the OpenAPI document. */
const DESCRIPTIONS: Record<keyof ChatRouteParams, string> = {
  project_id:
    'The Langfuse project (a key of `langfuse_keys` in the secrets file) the call works in. Without it: the key’s only project, else `default_project_id`. Unknown → 404 `unknown_project`; outside the key’s projects → 403.',
  rollout_id: 'The rollout: its completions are tagged `rollout_id:<id>` and recorded, so /traces can return all of them or fail.',
  invocation_id: 'Tagged `invocation_id:<id>` on the completion’s trace.',
  experiment_id: 'Tagged `experiment_id:<id>` on the completion’s trace.',
  run_id: 'Tagged `run_id:<id>` on the completion’s trace.',
  row_id: 'The dataset row; tagged `row_id:<id>` on the completion’s trace.',
  encoded_base_url:
    'URL-safe base64 (padding optional) of an http(s) OpenAI-compatible base URL this call goes to instead of the configured upstream, e.g. base64.urlsafe_b64encode(b"https://my-vllm.example/v1"). Undecodable → 400 `invalid_encoded_base_url`; loopback, link-local and cloud-metadata addresses → 403 `forbidden_upstream`.',
  trail_id: 'The trail: its completions are tagged `trail_id:<id>` and recorded under it, and read back with the same completeness rules as a rollout’s.',
};

/**
 * Documents the named path parameters. A handler serving several path
 * aliases names every parameter any alias has; the gateway's document keeps,
 * on each path, only the parameters that path carries.
 */
export function ApiRouteParams(...names: Array<keyof ChatRouteParams>): MethodDecorator {
  return applyDecorators(
    ...names.map((name) =>
      ApiParam({ name, required: true, description: DESCRIPTIONS[name], schema: { type: 'string', minLength: 1, ...(name === 'encoded_base_url' ? {} : { maxLength: MAX_ID_LENGTH }) } }),
    ),
  );
}
