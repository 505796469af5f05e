import { Injectable } from '@nestjs/common';
import { IsString, MinLength } from 'class-validator';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AccountInfo, AuthProvider, AuthRequest } from '@app/auth';
import { Setting, Settings, SettingsSource } from '@app/settings';

/** The provider's own setting, declared like the gateway's: env JWT_SECRET, or `settings: { JWT_SECRET }` in code. */
@Settings('Example: JWT auth', 100)
export class JwtSettings {
  @Setting('HS256 secret the gateway JWTs are signed with.', { sensitive: true })
  @IsString()
  @MinLength(32)
  JWT_SECRET: string;
}

/**
 * Callers send `Authorization: Bearer <HS256 JWT>` with `sub` (the account)
 * and optionally `projects`. The JWT is the gateway credential, so the
 * provider key travels in `X-Provider-Authorization`; the gateway strips the
 * JWT from everything it forwards (credentialHeaders).
 */
@Injectable()
export class JwtAuthProvider extends AuthProvider {
  readonly credentialHeaders = ['authorization'];
  private readonly secret: Buffer;

  constructor(settings: SettingsSource) {
    super();
    this.secret = Buffer.from(settings.load(JwtSettings).JWT_SECRET);
  }

  async authenticate({ headers }: AuthRequest): Promise<AccountInfo | null> {
    const [header, payload, signature] = /^Bearer (\S+)$/i.exec(String(headers.authorization))?.[1].split('.') ?? [];
    if (!signature) return null;
    const expected = createHmac('sha256', this.secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub?: unknown; exp?: unknown; projects?: string[] };
    if (typeof claims.sub !== 'string' || (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now())) return null;
    return { accountId: claims.sub, projects: claims.projects, credentialHeaders: ['authorization'] };
  }
}
