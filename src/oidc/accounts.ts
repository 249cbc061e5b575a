import type { Account, AccountClaims } from 'oidc-provider';
import type { UsersRepo } from '../repos/users.ts';
import { recallUser } from './request-scope.ts';

/**
 * The provider's view of users. A disabled or deleted user has no account, so their tokens fail at
 * userinfo and at the next refresh.
 */
export function createFindAccount(users: UsersRepo) {
  return async (_ctx: unknown, id: string): Promise<Account | undefined> => {
    // Read with the token or code this request presented, when there is one (request-scope.ts).
    const user = recallUser(id) ?? (await users.findById(id));
    if (!user || user.disabled) return undefined;
    return {
      accountId: user.id,
      async claims(): Promise<AccountClaims> {
        return {
          sub: user.id,
          preferred_username: user.username,
          ...(user.name ? { name: user.name } : {}),
          ...(user.email ? { email: user.email, email_verified: false } : {}),
          updated_at: Math.floor(user.updatedAt.getTime() / 1000),
          roles: user.roles,
        };
      },
    };
  };
}
