import { GatewayError } from '@app/common';

/** The GatewayError a synchronous call throws (fails the test when it throws nothing). */
export function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}
