import { Logger } from '@nestjs/common';
import { GatewayErrorCode } from '@app/common';
import { InMemoryRolloutLogStore } from './in-memory-rollout-log.store';
import { RolloutLogStore } from './rollout-log.store';
import { RolloutLogsService } from './rollout-logs.service';

const config = { ROLLOUT_LOGS_MAX_ENTRIES: 1000, ROLLOUT_LOG_MAX_MESSAGE_CHARS: 1000, ROLLOUT_LOG_MAX_TAGS: 10, ROLLOUT_LOG_MAX_ENTRY_BYTES: 10_000 };

describe('RolloutLogsService', () => {
  it('pages through more than one store page and filters by every tag and program', async () => {
    const svc = new RolloutLogsService(new InMemoryRolloutLogStore({ ttlSeconds: 60, maxEntries: 1000 }), config);
    for (let i = 0; i < 450; i++) {
      await svc.post({ message: `m${i}`, program: i % 2 ? 'odd' : 'even', tags: ['rollout_id:r', i % 3 === 0 ? 'run_id:three' : 'run_id:other'] }, 'p');
    }
    const res = await svc.query({ rolloutId: 'r', tags: ['rollout_id:r', 'run_id:three'], limit: 1000, program: 'odd' }, 'p');
    expect(res.total_entries).toBe(75); // i % 6 === 3
    expect(res.entries[0].message).toBe('m447');
    expect(res.entries.at(-1)!.message).toBe('m3');
  });

  it('skips entries it has already seen when the list grows while it pages', async () => {
    const store = new InMemoryRolloutLogStore({ ttlSeconds: 60, maxEntries: 1000 });
    const svc = new RolloutLogsService(store, config);
    for (let i = 0; i < 250; i++) await svc.post({ message: `m${i}`, tags: ['rollout_id:r'] }, 'p');
    const range = store.range.bind(store);
    let calls = 0;
    jest.spyOn(store, 'range').mockImplementation(async (id, offset, count) => {
      if (calls++ === 1) for (let i = 0; i < 5; i++) await svc.post({ message: `late${i}`, tags: ['rollout_id:r'] }, 'p');
      return range(id, offset, count);
    });
    const res = await svc.query({ rolloutId: 'r', tags: ['rollout_id:r'], limit: 1000 }, 'p');
    const messages = res.entries.map((e) => e.message);
    expect(new Set(messages).size).toBe(messages.length);
    expect(messages).toHaveLength(250);
  });

  it('a store failure becomes tracking_unavailable (503) naming the store', async () => {
    class DownStore extends RolloutLogStore {
      readonly kind = 'down';
      append = () => Promise.reject(new Error('ECONNREFUSED'));
      range = () => Promise.reject(new Error('ECONNREFUSED'));
      count = () => Promise.reject(new Error('ECONNREFUSED'));
      latestStatus = () => Promise.reject(new Error('ECONNREFUSED'));
    }
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const svc = new RolloutLogsService(new DownStore(), config);
    await expect(svc.post({ message: 'x', tags: ['rollout_id:r'] }, 'p')).rejects.toMatchObject({ code: GatewayErrorCode.TrackingUnavailable, message: expect.stringMatching(/\(down\) is unreachable/) });
    await expect(svc.status({ projectId: 'p', rolloutId: 'r' })).rejects.toMatchObject({ code: GatewayErrorCode.TrackingUnavailable });
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/Could not store the log entry: ECONNREFUSED/));
    logged.mockRestore();
  });
});
