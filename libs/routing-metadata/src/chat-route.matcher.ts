import { match, MatchFunction } from 'path-to-regexp';
import { CHAT_COMPLETION_PATHS, ChatRouteParams } from './chat-route.parser';

export interface MatchedChatRoute {
  /** The route pattern (one of CHAT_COMPLETION_PATHS), e.g. for a metrics label. */
  route: string;
  params: ChatRouteParams;
}

/** A %-sequence that does not decode makes the path no chat route here (the framework answers it). */
class UndecodablePath extends Error {}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new UndecodablePath();
  }
}

// Matched the way Express 5 matches the same patterns on the chat controller:
// path-to-regexp, case-insensitive, optional trailing slash, params %-decoded.
const matchers: Array<{ route: string; fn: MatchFunction<Partial<Record<keyof ChatRouteParams, string>>> }> = CHAT_COMPLETION_PATHS.map((route) => ({
  route,
  fn: match(route, { sensitive: false, end: true, trailing: true, decode }),
}));

/**
 * The chat route a request path (without its query) is on, from the route
 * table of the contract; undefined for any other path, and for a path whose
 * %-encoding does not decode.
 */
export function matchChatRoute(path: string): MatchedChatRoute | undefined {
  try {
    for (const { route, fn } of matchers) {
      const m = fn(path);
      if (m) return { route, params: m.params as ChatRouteParams };
    }
  } catch (err) {
    if (err instanceof UndecodablePath) return undefined;
    throw err;
  }
  return undefined;
}
