export { FAILED_TAG_PREFIXES, INSERTION_TAG_PREFIX, refKey, ROLLOUT_TAG_PREFIX, tagValues, TRAIL_TAG_PREFIX } from './rollout-metadata';
export type { ChatRoute, RolloutMetadata, RolloutRef } from './rollout-metadata';
export { buildMetadataTags, buildTrailTags, CHAT_COMPLETION_PATHS, decodeBaseUrl, mergeTags, parseChatRoute } from './chat-route.parser';
export type { ChatRouteParams } from './chat-route.parser';
export { matchChatRoute } from './chat-route.matcher';
export type { MatchedChatRoute } from './chat-route.matcher';
export { ApiRouteParams } from './route-param.docs';
