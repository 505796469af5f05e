import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { CredentialVault } from '@app/credential-vault';
import { forwardingConfig } from './forwarding.config';
import { UpstreamKind } from './upstream-target.resolver';

/** Small decisions about what may leave the gateway, kept in one place. */
@Injectable()
export class ForwardingPolicy {
  private digests?: ReadonlySet<string>;

  constructor(
    @Inject(forwardingConfig.KEY) private readonly config: ConfigType<typeof forwardingConfig>,
    private readonly vault: CredentialVault,
  ) {
    vault.onReload(() => (this.digests = undefined));
  }

  /**
   * Whether the six tags go into the forwarded body's metadata.tags. LiteLLM
   * consumes them; strict provider APIs (OpenAI) reject non-string metadata,
   * and the gateway's own trace carries the tags anyway.
   */
  forwardTags(kind: UpstreamKind): boolean {
    if (this.config.FORWARD_METADATA_TAGS === 'always') return true;
    if (this.config.FORWARD_METADATA_TAGS === 'never') return false;
    return kind === 'litellm' || kind === 'encoded';
  }

  /** sha256 digests of the gateway's own API keys, which are never forwarded. */
  gatewayKeyDigests(): ReadonlySet<string> {
    return (this.digests ??= new Set(this.vault.apiKeys().map((k) => k.keySha256)));
  }
}
