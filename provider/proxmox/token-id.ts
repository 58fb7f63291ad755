// API token strings `USER@REALM!TOKENID=SECRET`, checked by Proxmox VE's own rules so that a token PVE would refuse
// is refused here with the rule spelled out, not with a 401 later. The rules (pve-access-control):
//  - src/PVE/Auth/Plugin.pm: `$user_regex = qr![^\s:/]+!`, `$realm_regex = qr/[A-Za-z][A-Za-z0-9\.\-_]+/`;
//  - src/PVE/AccessControl.pm: `$token_subid_regex = $PVE::Auth::Plugin::realm_regex`, and `pve_verify_tokenid`
//    matches `USER@REALM!SUBID` against them whole.
// So a realm and a token id both start with a letter and have at least two characters.

/** The token id rule in words, for error messages. */
export const TOKEN_ID_RULE =
  'a token id starts with a letter followed by at least one letter, digit, ".", "-" or "_" (PVE\'s pve_verify_tokenid)';
const REALM_RULE = 'a realm starts with a letter followed by at least one letter, digit, ".", "-" or "_"';
export const TOKEN_FORMAT = 'USER@REALM!TOKENID=SECRET (e.g. root@pam!pulumi=0d1e...)';

const USER_RE = /^[^\s:/]+$/;
const REALM_RE = /^[A-Za-z][A-Za-z0-9.\-_]+$/;
const TOKEN_SUBID_RE = REALM_RE;

export interface ApiToken {
  /** `root@pam!pulumi`: what PVE calls the token id, and what goes before `=` in the header. */
  tokenId: string;
  user: string;
  realm: string;
  /** `pulumi` in `root@pam!pulumi`. */
  subId: string;
  secret: string;
}

/**
 * Parse a full token string. On failure, `problem` says what is wrong and the rule; it never contains the secret.
 * The secret is everything after the first `=` (user, realm and token id cannot contain one).
 */
export function parseApiToken(text: string): ApiToken | { problem: string } {
  const bang = text.indexOf('!');
  const eq = text.indexOf('=', bang + 1);
  if (bang < 0 || eq < 0) return { problem: `must look like ${TOKEN_FORMAT}` };
  const userAtRealm = text.slice(0, bang);
  const subId = text.slice(bang + 1, eq);
  const secret = text.slice(eq + 1);
  const at = userAtRealm.lastIndexOf('@');
  if (at <= 0) return { problem: `must look like ${TOKEN_FORMAT}: the user before "!" needs its realm, e.g. root@pam` };
  const user = userAtRealm.slice(0, at);
  const realm = userAtRealm.slice(at + 1);
  if (!USER_RE.test(user)) return { problem: `the user '${user}' must not contain spaces, ":" or "/"` };
  if (!REALM_RE.test(realm)) return { problem: `the realm '${realm}' is not valid: ${REALM_RULE}` };
  if (!TOKEN_SUBID_RE.test(subId)) return { problem: `the token id '${subId}' is not valid: ${TOKEN_ID_RULE}` };
  if (secret === '' || /\s/.test(secret)) return { problem: 'the secret after "=" is missing or contains spaces' };
  return { tokenId: `${user}@${realm}!${subId}`, user, realm, subId, secret };
}
