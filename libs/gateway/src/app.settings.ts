import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { IsAddressList, Setting, Settings, toBool, toLowerCase } from '@app/settings';

@Settings('HTTP server and logs', 10)
export class AppSettings {
  @Setting('Port to listen on.')
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 4000;

  @Setting('Host or interface to listen on.')
  @Matches(/^[\w.:-]+$/, { message: 'HOST must be a host name or IP address' })
  HOST: string = '0.0.0.0';

  @Setting('`error`, `warn`, `info`, `debug` (adds an access line per request) or `verbose`.')
  @Transform(toLowerCase)
  @IsIn(['error', 'warn', 'info', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'info' | 'debug' | 'verbose' = 'info';

  @Setting('`json` (one object per line, with request and rollout ids) or `text`.', { defaultDoc: '`text` (`json` with `NODE_ENV=production`)' })
  @Transform(toLowerCase)
  @IsIn(['json', 'text'])
  LOG_FORMAT: 'json' | 'text' = process.env.NODE_ENV === 'production' ? 'json' : 'text';

  @Setting('Largest request body (`32mb`, `500kb`, bytes); a larger one gets 413 naming this variable. Evaluation prompts are long.')
  @Transform(({ value }) => (typeof value === 'number' ? String(value) : value))
  @Matches(/^\s*\d+(\.\d+)?\s*(b|kb|mb|gb)?\s*$/i, { message: 'MAX_BODY_SIZE must be a size such as 32mb, 500kb or a number of bytes' })
  MAX_BODY_SIZE: string = '32mb';

  @Setting('Seconds SIGTERM lets in-flight requests and streams finish before closing them.')
  @IsNumber()
  @Min(0)
  SHUTDOWN_TIMEOUT: number = 30;

  @Setting('OpenAPI UI at /docs, the document at /openapi.json (and /docs-json, /docs-yaml). `false`: those paths answer 404.')
  @Transform(toBool)
  @IsBoolean()
  DOCS_ENABLED: boolean = true;

  @Setting('Lets an app that opted in (GatewayModule.forRoot({ directChatRoute: true }), as the shipped app does) serve POST …/chat/completions in front of Express and Nest; `false` keeps chat on the framework path.')
  @Transform(toBool)
  @IsBoolean()
  CHAT_DIRECT_ROUTE: boolean = true;

  @Setting(
    'With auth on, addresses that may read /metrics without a gateway key (Prometheus scrapers, e.g. the pod network): IPs and CIDRs, comma-separated, matched against the connecting address (not X-Forwarded-For). Unset: /metrics needs a key like any route; with AUTH_PROVIDER=none it is open.',
  )
  @IsOptional()
  @IsString()
  @IsAddressList()
  METRICS_ALLOW?: string;
}
