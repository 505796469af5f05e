import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { IsAddressList, Setting, Settings, toBool, toLowerCase } from '@app/settings';

const URL_OPTS = { require_tld: false, protocols: ['http', 'https'], require_protocol: true };

@Settings('Upstreams', 50)
export class ForwardingSettings {
  @Setting('Every call goes to this OpenAI-compatible base (typically a LiteLLM proxy), model name unchanged.')
  @IsOptional()
  @IsUrl(URL_OPTS)
  LITELLM_URL?: string;

  @Setting("The LITELLM_URL proxy may receive the project's Langfuse keys in the body (for its own Langfuse callback).")
  @Transform(toBool)
  @IsBoolean()
  LITELLM_TRUSTED: boolean = false;

  @Setting('Base for models without a known provider prefix, and for the catch-all proxy, when LITELLM_URL is unset.')
  @IsUrl(URL_OPTS)
  DEFAULT_UPSTREAM_URL: string = 'https://api.openai.com/v1';

  @Setting('Overrides/additions to the provider table: `name=https://base/v1,other=…`.')
  @IsOptional()
  @IsString()
  UPSTREAM_PROVIDERS?: string;

  @Setting('Seconds an upstream may stay silent before the call fails with 504.')
  @IsNumber()
  @Min(1)
  @Max(3600)
  REQUEST_TIMEOUT: number = 300;

  @Setting(
    'Addresses an encoded_base_url may reach although the SSRF guard refuses them by default (loopback, link-local, cloud metadata, reserved): IPs and CIDRs, comma-separated, e.g. `127.0.0.1/32` for a sidecar. Between the two lists the longer prefix wins, deny on a tie.',
  )
  @IsOptional()
  @IsString()
  @IsAddressList({ exactRanges: true })
  UPSTREAM_ALLOW_CIDRS?: string;

  @Setting('Addresses an encoded_base_url may not reach although the default allows them (private ranges, public hosts): IPs and CIDRs, comma-separated, e.g. `10.0.0.0/8`.')
  @IsOptional()
  @IsString()
  @IsAddressList({ exactRanges: true })
  UPSTREAM_DENY_CIDRS?: string;

  @Setting(
    'Compatibility switch: `true` lets an encoded_base_url reach any address, loopback and cloud metadata included (UPSTREAM_DENY_CIDRS still applies). Private ranges need no switch; prefer UPSTREAM_ALLOW_CIDRS for one address.',
  )
  @Transform(toBool)
  @IsBoolean()
  ALLOW_PRIVATE_UPSTREAMS: boolean = false;

  @Setting('Where the six tags also go into the forwarded body\'s metadata.tags: `auto` (LiteLLM and encoded_base_url upstreams), `always`, `never`.')
  @Transform(toLowerCase)
  @IsIn(['auto', 'always', 'never'])
  FORWARD_METADATA_TAGS: 'auto' | 'always' | 'never' = 'auto';

  @Setting('Idle keep-alive sockets kept per upstream host.')
  @IsInt()
  @Min(1)
  UPSTREAM_MAX_FREE_SOCKETS: number = 256;
}
