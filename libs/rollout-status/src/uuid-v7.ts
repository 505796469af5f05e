const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The creation time (epoch ms) a UUIDv7 carries in its first 48 bits, or undefined for other ids. */
export function uuidV7Time(id: string): number | undefined {
  if (!UUID_V7.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The newest of the ids in UUIDv7 order (time, then the random bits); non-v7 ids lose to v7 ones. */
export function newestUuidV7(ids: readonly string[]): string | undefined {
  let newest: string | undefined;
  let newestKey = '';
  for (const id of ids) {
    const key = `${UUID_V7.test(id) ? '1' : '0'}${id.toLowerCase()}`;
    if (newest === undefined || key > newestKey) {
      newest = id;
      newestKey = key;
    }
  }
  return newest;
}
