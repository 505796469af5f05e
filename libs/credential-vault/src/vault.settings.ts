import { IsOptional, IsString, IsUrl } from 'class-validator';
import { Setting, Settings } from '@app/settings';

@Settings('Secrets and Langfuse', 20)
export class VaultSettings {
  @Setting('YAML with langfuse_keys, default_project_id, api_keys (see secrets.yaml.example); with no file, tracing and /traces are off.', {
    defaultDoc: '`./secrets.yaml` if present',
  })
  @IsOptional()
  @IsString()
  SECRETS_PATH?: string;

  @Setting('Langfuse base URL (a project may override it with `host:` in the secrets file).')
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  LANGFUSE_HOST: string = 'https://cloud.langfuse.com';
}
