/** Who is calling, as the AuthProvider established it. */
export interface AccountInfo {
  accountId: string;
  /** Projects the account may use; undefined = every project. */
  projects?: string[];
}

/** What an AuthProvider may look at: transport-neutral, read-only. */
export interface AuthRequest {
  method: string;
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export const ANONYMOUS_ACCOUNT: AccountInfo = Object.freeze({ accountId: 'anonymous' });
