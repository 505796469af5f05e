export { CompletenessTrackingModule } from './completeness-tracking.module';
export type { CompletenessTrackingModuleOptions } from './completeness-tracking.module';
export { CompletenessStore } from './completeness.store';
export { RolloutTracker } from './rollout-tracker.service';
export type { TrackerStats } from './rollout-tracker.service';
export { TrackingSettings } from './tracking.settings';
