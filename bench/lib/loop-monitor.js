/*
 * Preloaded into the gateway process by the benchmarks (node -r), never by
 * the gateway itself: measures event-loop delay and GC pauses without
 * touching the gateway's code. On SIGUSR2 it writes what it saw since the
 * previous SIGUSR2 as one JSON line to BENCH_LOOP_STATS_FILE and starts over,
 * with process.memoryUsage() (after a full GC when node has --expose-gc).
 * Plain JavaScript so the measured process loads no TypeScript compiler.
 */
'use strict';
const { appendFileSync } = require('node:fs');
const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');

const file = process.env.BENCH_LOOP_STATS_FILE;
if (file) {
  // 10 ms ticks: cheap enough not to show up in the CPU figures of an idle process.
  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let gcCount = 0;
  let gcMs = 0;
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMs += entry.duration;
      if (entry.duration > gcMaxMs) gcMaxMs = entry.duration;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  let since = Date.now();
  process.on('SIGUSR2', () => {
    // the histogram holds whole tick intervals: report the delay beyond the expected tick
    const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
    const afterGc = typeof global.gc === 'function';
    if (afterGc) global.gc();
    const mem = process.memoryUsage();
    const line = {
      at: Date.now(),
      windowMs: Date.now() - since,
      loopDelay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) },
      gc: { count: gcCount, totalMs: Math.round(gcMs), maxMs: Math.round(gcMaxMs * 100) / 100 },
      memory: { rss: mib(mem.rss), heapUsed: mib(mem.heapUsed), heapTotal: mib(mem.heapTotal), external: mib(mem.external), arrayBuffers: mib(mem.arrayBuffers), afterGc },
    };
    appendFileSync(file, JSON.stringify(line) + '\n');
    delay.reset();
    gcCount = 0;
    gcMs = 0;
    gcMaxMs = 0;
    since = Date.now();
  });
}
