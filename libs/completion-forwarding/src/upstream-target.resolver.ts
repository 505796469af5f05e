import { Injectable } from '@nestjs/common';
import { ForwardingSettings } from './forwarding.settings';
import { UpstreamAddressPolicy } from './ssrf-guard';

/**
 * OpenAI-compatible bases of the providers a `provider/` model prefix names
 * (LiteLLM's prefixes). UPSTREAM_PROVIDERS overrides or extends the table.
 */
export const BUILT_IN_PROVIDERS: Readonly<Record<string, string>> = Object.freeze({
  openai: 'https://api.openai.com/v1',
  fireworks_ai: 'https://api.fireworks.ai/inference/v1',
  together_ai: 'https://api.together.xyz/v1',
  groq: 'https://api.groq.com/openai/v1',
  deepinfra: 'https://api.deepinfra.com/v1/openai',
  openrouter: 'https://openrouter.ai/api/v1',
  mistral: 'https://api.mistral.ai/v1',
  anthropic: 'https://api.anthropic.com/v1',
  xai: 'https://api.x.ai/v1',
  cerebras: 'https://api.cerebras.ai/v1',
  perplexity: 'https://api.perplexity.ai',
  gemini: 'https://generativelanguage.googleapis.com/v1beta/openai',
  deepseek: 'https://api.deepseek.com/v1',
});

export type UpstreamKind = 'litellm' | 'provider' | 'default' | 'encoded';

export interface UpstreamTarget {
  kind: UpstreamKind;
  /** Base URL without trailing slash; `/chat/completions` is appended. */
  baseUrl: string;
  /** The model name to send. */
  model: string;
  /** Only a trusted LITELLM_URL may receive Langfuse keys. */
  trustedForLangfuseKeys: boolean;
  /** encoded_base_url targets go through the SSRF guard (UpstreamAddressPolicy), unless it is off. */
  guardPrivate: boolean;
  /** What messages to the client call it (UpstreamRequest.name). */
  name: string;
}

export function parseProviderOverrides(spec: string | undefined): Record<string, string> {
  if (!spec) return {};
  const out: Record<string, string> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = eq > 0 ? part.slice(0, eq).trim() : '';
    const url = eq > 0 ? part.slice(eq + 1).trim() : '';
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!name || !ok) throw new Error(`Invalid configuration:\n  - UPSTREAM_PROVIDERS: "${part}" is not name=http(s)://base-url`);
    out[name] = url.replace(/\/+$/, '');
  }
  return out;
}

@Injectable()
export class UpstreamTargetResolver {
  private readonly providers: Record<string, string>;

  constructor(
    private readonly config: ForwardingSettings,
    private readonly addressPolicy: UpstreamAddressPolicy,
  ) {
    this.providers = { ...BUILT_IN_PROVIDERS, ...parseProviderOverrides(config.UPSTREAM_PROVIDERS) };
  }

  /** encoded_base_url > LITELLM_URL > provider prefix > DEFAULT_UPSTREAM_URL. */
  resolve(model: string, encodedBaseUrl?: URL): UpstreamTarget {
    if (encodedBaseUrl) {
      return {
        kind: 'encoded',
        baseUrl: trimSlash(encodedBaseUrl.toString()),
        model: this.split(model)?.rest ?? model,
        trustedForLangfuseKeys: false,
        guardPrivate: this.addressPolicy.active,
        name: `the upstream ${encodedBaseUrl.host}`,
      };
    }
    if (this.config.LITELLM_URL) {
      return {
        kind: 'litellm',
        baseUrl: trimSlash(this.config.LITELLM_URL),
        model,
        trustedForLangfuseKeys: this.config.LITELLM_TRUSTED,
        guardPrivate: false,
        name: this.defaultName(),
      };
    }
    const split = this.split(model);
    if (split) return { kind: 'provider', baseUrl: split.base, model: split.rest, trustedForLangfuseKeys: false, guardPrivate: false, name: `the "${split.provider}" provider` };
    return { kind: 'default', baseUrl: trimSlash(this.config.DEFAULT_UPSTREAM_URL), model, trustedForLangfuseKeys: false, guardPrivate: false, name: this.defaultName() };
  }

  /** Base of the catch-all proxy. */
  defaultBase(): string {
    return trimSlash(this.config.LITELLM_URL ?? this.config.DEFAULT_UPSTREAM_URL);
  }

  /** What messages to the client call the default upstream (UpstreamRequest.name). */
  defaultName(): string {
    return this.config.LITELLM_URL ? 'the LITELLM_URL upstream' : 'the DEFAULT_UPSTREAM_URL upstream';
  }

  private split(model: string): { provider: string; base: string; rest: string } | undefined {
    const slash = model.indexOf('/');
    if (slash <= 0) return undefined;
    const provider = model.slice(0, slash);
    // Own keys only: "constructor/x" or "__proto__/x" is a model name, not a provider.
    const base = Object.hasOwn(this.providers, provider) ? this.providers[provider] : undefined;
    return base ? { provider, base, rest: model.slice(slash + 1) } : undefined;
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
