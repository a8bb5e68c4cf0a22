// panva's openid-client (not ours) obtains a DPoP-bound token from authgate's
// issuer and calls an authgate-protected API with it. Run by
// integration/dpop_test.go: node dpop.mjs <issuer> <client_id> <secret> <api url>
// It prints one JSON line: what the Go test checks.
import * as client from 'openid-client';

const [issuer, clientId, secret, api] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, secret, undefined, {
	execute: [client.allowInsecureRequests], // the test's issuer is plain http on 127.0.0.1
});
// Record the token endpoint's answers: the server-nonce flow is a 400
// use_dpop_nonce, then the library's retry with the nonce.
const tokenStatuses = [];
config[client.customFetch] = async (url, options) => {
	const res = await fetch(url, options);
	if (new URL(url).pathname.endsWith('/token')) tokenStatuses.push(res.status);
	return res;
};
const keyPair = await client.randomDPoPKeyPair('ES256');
const DPoP = client.getDPoPHandle(config, keyPair);
const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
const calls = [];
for (let i = 0; i < 2; i++) { // a fresh proof each time
	const res = await client.fetchProtectedResource(config, tokens.access_token, new URL(api), 'GET', undefined, undefined, { DPoP });
	calls.push({ status: res.status, body: await res.text() });
}
const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
console.log(JSON.stringify({
	token_type: tokens.token_type,
	access_token: tokens.access_token,
	metadata_algs: config.serverMetadata().dpop_signing_alg_values_supported,
	jwk,
	calls,
	token_statuses: tokenStatuses,
}));
