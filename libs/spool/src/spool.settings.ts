import { IsString, MinLength } from 'class-validator';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Setting, Settings } from '@app/settings';

@Settings('Spool (what a shutdown could not store)', 46)
export class SpoolSettings {
  @Setting(
    'Directory where a gateway that stops while Redis or Langfuse is unreachable writes the registrations and traces it still holds; the next gateway to start with the same directory (any replica: mount a shared volume) takes them over.',
    { defaultDoc: '`$TMPDIR/metadata-gateway-spool`' },
  )
  @IsString()
  @MinLength(1)
  SPOOL_DIR: string = join(tmpdir(), 'metadata-gateway-spool');
}
