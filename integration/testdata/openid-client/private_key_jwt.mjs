// panva's openid-client authenticates to authgate's issuer with
// private_key_jwt (ES256) and gets client_credentials tokens.
// Usage: node private_key_jwt.mjs <issuer> <client_id> <pkcs8-pem-file> <kid>
// Prints one JSON line per token: {"access_token":..., "token_type":...}.
import * as client from 'openid-client';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';

const [issuer, clientId, keyFile, kid] = process.argv.slice(2);
const pem = readFileSync(keyFile, 'utf8');
const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);

const config = await client.discovery(new URL(issuer), clientId, {}, client.PrivateKeyJwt({ key, kid }), {
  execute: [client.allowInsecureRequests],
  algorithm: 'oauth2',
});
for (let i = 0; i < 2; i++) {
  const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
  console.log(JSON.stringify({ access_token: tokens.access_token, token_type: tokens.token_type }));
}
