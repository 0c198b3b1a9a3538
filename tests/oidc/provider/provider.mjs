// A real OpenID provider for the test suite: panva's certified oidc-provider on loopback.
//
//   PORT=4000 [APP_BASE=https://app.test/auth] node provider.mjs
//
// Prints "ready <issuer>" once listening. Clients:
//   web     confidential (client_secret_basic), PKCE, ID tokens carry auth_time
//   native  public (token_endpoint_auth_method none), PKCE: what a platform SDK is
//   short   confidential, ID tokens that live 2 seconds (expiry tests)
// Accounts (the dev login page accepts any password):
//   alice  verified email    bob  unverified email    carol  email only at userinfo
import { generateKeyPairSync, randomUUID } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 4000);
const issuer = `http://127.0.0.1:${port}`;
const app = (process.env.APP_BASE || 'https://app.test/auth').replace(/\/$/, '');
const callbacks = ['test', 'plain', 'short', 'basic'].map((name) => `${app}/oidc/${name}/callback`);

const accounts = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
  bob: { email: 'bob@example.com', email_verified: false, name: 'Bob Unverified' },
  carol: { email: 'carol@example.com', email_verified: true, name: 'Carol Userinfo', userinfoOnly: true },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [
    {
      client_id: 'web',
      client_secret: 'web-secret',
      redirect_uris: callbacks,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      require_auth_time: true,
    },
    {
      client_id: 'basic',
      client_secret: 'basic-secret',
      redirect_uris: callbacks,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      client_id: 'native',
      application_type: 'native',
      redirect_uris: ['com.example.app:/oauth2redirect'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    {
      client_id: 'short',
      client_secret: 'short-secret',
      redirect_uris: callbacks,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['authmanager-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Scope claims go into the ID token too (as Google does), so a native SDK's ID token
  // carries the email; carol's come only from userinfo.
  conformIdTokenClaims: false,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 600,
    IdToken: (ctx, token, client) => (client.clientId === 'short' ? 2 : 600),
    Interaction: 600,
    Session: 600,
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims(use) {
        if (account.userinfoOnly && use === 'id_token') return { sub: id };
        const { userinfoOnly, ...claims } = account;
        return { sub: id, ...claims };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
