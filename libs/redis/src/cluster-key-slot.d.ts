/** Types for cluster-key-slot (the hash slot ioredis computes for a key; the package ships none). */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
