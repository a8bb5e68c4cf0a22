// A generic panva/oidc-provider for authgate's tests, started by the Go
// package one directory up (oidcprovider.Start). Usage:
//
//	node provider.mjs <config.json>
//
// config.json (written by the Go side):
//
//	{
//	  "port": 9800,                 // listens on 127.0.0.1:<port>
//	  "issuer": "http://127.0.0.1:9800",
//	  "clients": [ {...} ],         // oidc-provider client metadata
//	  "accounts": { "alice": { "email": "a@example.com", "groups": ["admins"] } },
//	  "resourceServers": { "https://api.example": { "scope": "orders:read", "accessTokenFormat": "opaque" } },
//	  "ttlByClient": { "ClientCredentials": { "short-lived": 2 } },
//	  "config": { ... }             // deep-merged into the Provider configuration
//	}
//
// devInteractions (oidc-provider's own login and consent forms; any username
// signs in, and that username is the account id), introspection, revocation
// and client_credentials are on unless config turns them off. findAccount
// answers every account id: the claims are accounts[id] (when present) plus
// sub = id. GET /__testutil/counts answers {"<path>": <requests>} so tests can
// count the calls an endpoint received.
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const file = process.argv[2];
if (!file) {
  console.error('usage: node provider.mjs <config.json>');
  process.exit(2);
}
const opts = JSON.parse(readFileSync(file, 'utf8'));
const accounts = opts.accounts || {};
const resourceServers = opts.resourceServers || {};

function isPlain(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function merge(into, from) {
  for (const [k, v] of Object.entries(from || {})) {
    if (isPlain(v) && isPlain(into[k])) {
      merge(into[k], v);
    } else {
      into[k] = v;
    }
  }
  return into;
}

// Every scope a client or resource server names is a scope the provider
// supports (oidc-provider refuses client metadata naming unknown scopes).
const scopes = new Set(['openid', 'offline_access', 'email', 'profile', 'groups']);
for (const c of [...(opts.clients || []), ...Object.values(resourceServers)]) {
  for (const s of String(c.scope || '').split(' ')) {
    if (s) scopes.add(s);
  }
}

const defaults = {
  clients: opts.clients || [],
  scopes: [...scopes],
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        const info = resourceServers[resourceIndicator];
        if (!info) {
          throw new errors.InvalidTarget();
        }
        return info;
      },
    },
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const claims = { ...(accounts[id] || {}), sub: id };
    return {
      accountId: id,
      async claims() {
        return claims;
      },
    };
  },
};

const configuration = merge(defaults, opts.config);

// ttlByClient: {"<artifact>": {"<client_id>": seconds}} overrides the TTL of
// AccessToken, ClientCredentials, ... for those clients only.
const defaultTTL = { AccessToken: 3600, ClientCredentials: 600 };
for (const [kind, byClient] of Object.entries(opts.ttlByClient || {})) {
  const base = configuration.ttl?.[kind];
  configuration.ttl = configuration.ttl || {};
  configuration.ttl[kind] = function ttl(ctx, token, client) {
    const id = client?.clientId ?? token?.clientId;
    if (id && byClient[id] !== undefined) return byClient[id];
    if (typeof base === 'function') return base(ctx, token, client);
    if (typeof base === 'number') return base;
    return token?.resourceServer?.accessTokenTTL || defaultTTL[kind] || 3600;
  };
}
const provider = new Provider(opts.issuer, configuration);

const counts = {};
provider.use(async (ctx, next) => {
  if (ctx.path === '/__testutil/counts') {
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(counts);
    return;
  }
  counts[ctx.path] = (counts[ctx.path] || 0) + 1;
  await next();
});

// Keep the output short: tests print it only when they fail.
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(opts.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${opts.issuer}`);
});
// Stop: no new connections, and the open ones closed too (a browser's
// keep-alive connections would otherwise hold the exit until Stop's SIGKILL).
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
