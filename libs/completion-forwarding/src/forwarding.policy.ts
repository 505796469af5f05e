import { Injectable } from '@nestjs/common';
import { ForwardingSettings } from './forwarding.settings';
import { UpstreamKind } from './upstream-target.resolver';

/** Small decisions about what may leave the gateway, kept in one place. */
@Injectable()
export class ForwardingPolicy {
  constructor(private readonly settings: ForwardingSettings) {}

  /**
   * Whether the six tags go into the forwarded body's metadata.tags. LiteLLM
   * consumes them; strict provider APIs (OpenAI) reject non-string metadata,
   * and the gateway's own trace carries the tags anyway.
   */
  forwardTags(kind: UpstreamKind): boolean {
    if (this.settings.FORWARD_METADATA_TAGS === 'always') return true;
    if (this.settings.FORWARD_METADATA_TAGS === 'never') return false;
    return kind === 'litellm' || kind === 'encoded';
  }
}
