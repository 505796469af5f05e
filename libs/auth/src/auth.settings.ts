import { Transform } from 'class-transformer';
import { IsIn } from 'class-validator';
import { Setting, Settings, toLowerCase } from '@app/settings';

@Settings('Authentication', 60)
export class AuthSettings {
  @Setting('`none` (everyone is the anonymous account, as in the original) or `api_key` (the api_keys of the secrets file). A custom AuthProvider passed to GatewayModule replaces both.')
  @Transform(toLowerCase)
  @IsIn(['none', 'api_key'])
  AUTH_PROVIDER: 'none' | 'api_key' = 'none';
}
