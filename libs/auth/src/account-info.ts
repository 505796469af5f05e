/** Who is calling, as the AuthProvider established it. */
export interface AccountInfo {
  accountId: string;
  /** Projects the account may use; undefined = every project. */
  projects?: string[];
  /**
   * The request headers this call's credential came from (lower-case). The
   * gateway never forwards them. When a provider leaves it unset, its
   * `credentialHeaders` apply (every header it may read a credential from).
   */
  credentialHeaders?: readonly string[];
}

/** What an AuthProvider may look at: transport-neutral, read-only. */
export interface AuthRequest {
  method: string;
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export const ANONYMOUS_ACCOUNT: AccountInfo = Object.freeze({ accountId: 'anonymous', credentialHeaders: Object.freeze([]) });
