import { CompletionUsage } from './completion.tracer';

interface ToolCallAcc {
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
}

/**
 * Watches an OpenAI chat-completions SSE stream as it is relayed, without
 * holding chunks back: it only keeps what the trace needs (assistant text,
 * tool calls, usage, model) and whether the stream ended normally.
 */
export class SseAccumulator {
  private partial = '';
  private content = '';
  private reasoning = '';
  private role = 'assistant';
  private readonly toolCalls: ToolCallAcc[] = [];
  finishReason?: string;
  usage?: CompletionUsage;
  model?: string;
  error?: string;
  sawDone = false;

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = text.slice(start);
  }

  /** Normal end: `[DONE]` or a finish_reason, and no error event. */
  get endedNormally(): boolean {
    return !this.error && (this.sawDone || this.finishReason !== undefined);
  }

  output(): Record<string, unknown> {
    const message: Record<string, unknown> = { role: this.role, content: this.content };
    if (this.reasoning) message.reasoning_content = this.reasoning;
    if (this.toolCalls.length) message.tool_calls = this.toolCalls.filter(Boolean);
    return message;
  }

  private line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (data === '[DONE]') {
      this.sawDone = true;
      return;
    }
    let event: Record<string, any>;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.error) {
      this.error = typeof event.error?.message === 'string' ? event.error.message : JSON.stringify(event.error);
      return;
    }
    if (typeof event.model === 'string') this.model = event.model;
    if (event.usage) this.usage = event.usage;
    const choice = Array.isArray(event.choices) ? event.choices[0] : undefined;
    if (!choice) return;
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    const delta = choice.delta ?? {};
    if (typeof delta.role === 'string') this.role = delta.role;
    if (typeof delta.content === 'string') this.content += delta.content;
    if (typeof delta.reasoning_content === 'string') this.reasoning += delta.reasoning_content;
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) {
        const i = typeof tc.index === 'number' ? tc.index : this.toolCalls.length;
        const acc = (this.toolCalls[i] ??= { function: { name: '', arguments: '' } });
        if (tc.id) acc.id = tc.id;
        if (tc.type) acc.type = tc.type;
        if (tc.function?.name) acc.function.name += tc.function.name;
        if (tc.function?.arguments) acc.function.arguments += tc.function.arguments;
      }
    }
  }
}
